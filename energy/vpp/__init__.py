"""The park's virtual power plant: demand-response baselines, event plans and settlement."""
