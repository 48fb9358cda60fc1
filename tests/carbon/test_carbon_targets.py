"""Target status per phase: milestones, trend projection, yearly change still needed."""

import pandas as pd
import pytest

from carbon import (
    Activity,
    compute_indicators,
    compute_ledger,
    history_frame,
    load_policy,
    load_targets,
    target_status,
)

EI = "energy_intensity_assessed_tce_per_10k_yuan"  # the indicator of the plan's energy targets
CS = "clean_energy_share_pct"


def _status(rows, target_id, phase):
    (row,) = [r for r in rows if r.target_id == target_id and r.phase == phase]
    return row


def test_target_data_match_plan_and_notice():
    plan = {t.id: t for t in load_targets("plan").targets}
    assert plan["energy_intensity_2030"].value == 0.07
    assert plan["energy_intensity_reduction_2026_2027"].change_vs_base_pct == -20
    assert plan["cod_intensity_2030"].value == 0.1
    assert plan["solid_waste_utilisation_2030"].value == 97
    zcp = load_targets("zero_carbon_park")
    assert [(p.start_year, p.end_year) for p in zcp.phases] == [(2026, 2028), (2029, 2030)]
    assert {t.indicator: t.value for t in zcp.targets if t.value is not None} == {
        "clean_energy_share_pct": 90, "solid_waste_utilisation_pct": 80,
        "waste_heat_utilisation_pct": 50, "water_reuse_pct": 80}


def test_compound_trend_phase_milestone_on_track_final_off_track():
    # intensity falls 10 %/yr: 0.12 (2025), 0.108, 0.0972 (2027)
    hist = pd.DataFrame({EI: [0.12, 0.108, 0.0972]}, index=[2025, 2026, 2027])
    rows = target_status(hist, load_targets("plan"), as_of_year=2027, trend="compound")
    p1 = _status(rows, "energy_intensity_2030", "phase_1")
    # phase-1 milestone (2028) = 0.12 + (0.07 - 0.12) x (2028 - 2025) / (2030 - 2025) = 0.09
    assert p1.target_value == pytest.approx(0.09)
    # projection 0.0972 x 0.9 = 0.08748 <= 0.09: on track
    assert p1.projected_value == pytest.approx(0.08748)
    assert p1.on_track and p1.status == "on_track"
    p2 = _status(rows, "energy_intensity_2030", "phase_2")
    # projection 0.0972 x 0.9^3 = 0.070859 > 0.07: off track
    assert p2.projected_value == pytest.approx(0.0972 * 0.9**3)
    assert not p2.on_track and p2.status == "off_track"
    # still needed: (0.07 / 0.0972)^(1/3) - 1 = -10.37 %/yr
    assert p2.required_yearly_change_pct == pytest.approx(((0.07 / 0.0972) ** (1 / 3) - 1) * 100)


def test_linear_trend_differs():
    hist = pd.DataFrame({EI: [0.12, 0.108, 0.0972]}, index=[2025, 2026, 2027])
    rows = target_status(hist, load_targets("plan"), as_of_year=2027, trend="linear")
    p2 = _status(rows, "energy_intensity_2030", "phase_2")
    # least squares over 3 equally spaced points: slope = (0.0972 - 0.12) / 2 = -0.0114/yr,
    # through the mean 0.1084 at 2026 -> 2030: 0.1084 - 4 x 0.0114 = 0.0628 <= 0.07: on track
    assert p2.projected_value == pytest.approx(0.0628)
    assert p2.on_track


def test_relative_reduction_target_off_track_then_achieved_or_missed():
    targets = load_targets("plan")
    # base 0.12 -> target 0.12 x (1 - 20 %) = 0.096 in 2027
    hist = {2025: {EI: 0.12}, 2026: {EI: 0.11}}
    row = _status(target_status(hist, targets, 2026), "energy_intensity_reduction_2026_2027",
                  "phase_1")
    assert row.target_value == pytest.approx(0.096)
    # compound: 0.11 x (0.11 / 0.12) = 0.100833 > 0.096
    assert row.projected_value == pytest.approx(0.11 * 0.11 / 0.12)
    assert row.status == "off_track"
    # still needed: 0.096 / 0.11 - 1 = -12.73 % in one year
    assert row.required_yearly_change_pct == pytest.approx((0.096 / 0.11 - 1) * 100)
    assert not [r for r in target_status(hist, targets, 2026)
                if r.target_id == "energy_intensity_reduction_2026_2027" and r.phase == "phase_2"]
    achieved = target_status({2025: {EI: 0.12}, 2027: {EI: 0.095}}, targets, 2028)
    assert _status(achieved, "energy_intensity_reduction_2026_2027", "phase_1").status \
        == "achieved"
    missed = target_status({2025: {EI: 0.12}, 2027: {EI: 0.1}}, targets, 2028)
    row = _status(missed, "energy_intensity_reduction_2026_2027", "phase_1")
    assert row.status == "missed" and not row.on_track


def test_already_met_needs_no_reduction():
    rows = target_status({2025: {EI: 0.12}, 2026: {EI: 0.06}}, load_targets("plan"), 2026)
    row = _status(rows, "energy_intensity_2030", "phase_2")
    assert row.met_now and row.required_yearly_change_pct == 0.0


@pytest.mark.parametrize(
    ("energy_tce", "threshold"),
    [(1_500_000, 0.3), (300_000, 0.2), (150_000, 0.5)],
)
def test_core_indicator_band(energy_tce, threshold):
    # < 200,000 tce: the policy setting (overridden to 0.5 here)
    policy = load_policy(small_park_core_threshold_t_per_tce=0.5)
    hist = {2026: {"co2_per_energy_t_per_tce": 0.25, "energy_tce": energy_tce}}
    row = _status(target_status(hist, load_targets("zero_carbon_park"), 2026, policy),
                  "core_co2_per_energy", "phase_2")
    assert row.target_value == threshold
    assert row.met_now == (threshold >= 0.25)


def test_no_data_and_no_milestones():
    rows = target_status({2026: {EI: 0.1}}, load_targets("plan"), 2026)
    cod = _status(rows, "cod_intensity_2030", "phase_2")
    assert cod.status == "no_data" and cod.on_track is False and cod.actual_value is None
    rows = target_status({2025: {EI: 0.12}}, load_targets("plan"), 2026,
                         load_policy(milestone_rule="none"))
    assert {r.phase for r in rows if r.target_id == "energy_intensity_2030"} == {"phase_2"}


def test_from_ledgers_to_status():
    def year(kwh, va, period):
        led = compute_ledger({"electricity_import_kwh": kwh}, Activity(value_added_10k_yuan=va),
                             period=period)
        return compute_indicators(led)

    # 2025: 1,000,000 x 0.1229/1000 / 1000 = 0.1229; 2026: 800,000 x ... / 1000 = 0.09832
    hist = history_frame({2025: year(1_000_000, 1000, "2025"), 2026: year(800_000, 1000, "2026")})
    assert hist.loc[2026, EI] == pytest.approx(0.09832)
    rows = target_status(hist, load_targets("plan"), 2026)
    row = _status(rows, "energy_intensity_reduction_2026_2027", "phase_1")
    # target 0.1229 x 0.8 = 0.09832: already met in 2026
    assert row.target_value == pytest.approx(0.09832)
    assert row.met_now and row.on_track


def test_projected_shares_stay_within_0_and_100_pct():
    # Solid-waste utilisation 80 % -> 95 % in one year: a compound trend (x1.1875/yr) would say
    # 95 x 1.1875^3 = 159 % in 2028; a share is capped at 100 %.
    from carbon import load_targets, target_status

    history = {2025: {"solid_waste_utilisation_pct": 80.0, "energy_tce": 1000.0},
               2026: {"solid_waste_utilisation_pct": 95.0, "energy_tce": 1000.0}}
    rows = target_status(history, load_targets("plan"), 2026, trend="compound")
    waste = [r for r in rows if r.indicator == "solid_waste_utilisation_pct"]
    assert waste
    for r in waste:
        assert r.projected_value is not None and 0.0 <= r.projected_value <= 100.0


def test_honest_mode_incomplete_insufficient_and_capped():
    """With coverage, a partial year is `incomplete` (never met), two complete years are too
    few to project, and a steep short trend is capped."""
    full = {"complete": True}
    part = {"complete": False, "incomplete_because": ["the year has not ended"]}
    # 1 Jan–28 Nov energy against a full year's value added looks like 0.0655 <= 0.07
    rows = target_status({2025: {EI: 0.075}, 2026: {EI: 0.0655}}, load_targets("plan"), 2026,
                         coverage={2025: full, 2026: part})
    r = _status(rows, "energy_intensity_2030", "phase_2")
    assert r.status == "incomplete" and r.met_now is None and not r.on_track
    assert r.coverage == part and "incomplete" in r.null_reasons["met_now"]
    assert r.projected_value is None and "projection needs 3" in r.null_reasons["projected_value"]
    # two complete years: no projection
    rows = target_status({2025: {CS: 10.4}, 2026: {CS: 28.3}},
                         load_targets("zero_carbon_park"), 2026,
                         coverage={2025: full, 2026: full})
    r = next(x for x in rows if x.indicator == CS)
    assert r.status == "insufficient_data" and r.projected_value is None
    assert r.null_reasons["projected_value"].startswith("2 complete year(s)")
    # three complete years rising +172 %/yr: the projection is capped at +30 %/yr
    hist = {2024: {CS: 3.8}, 2025: {CS: 10.4}, 2026: {CS: 28.3}}
    rows = target_status(hist, load_targets("zero_carbon_park"), 2026,
                         coverage={y: full for y in hist})
    r = next(x for x in rows if x.indicator == CS and x.evaluation_year == 2028)
    assert r.projected_value == pytest.approx(28.3 * 1.3**2)
    assert r.status == "off_track" and "capped" in r.note
