"""Group-sequential designs: alpha/beta spending and one-sided boundaries (efficacy scale Z_eff = -Z)."""

from simtrial.sequential.boundaries import (
    GroupSequentialDesign,
    efficacy_bounds_from_information,
    group_sequential_design,
)
from simtrial.sequential.spending import alpha_spending, beta_spending

__all__ = [
    "GroupSequentialDesign",
    "alpha_spending",
    "beta_spending",
    "efficacy_bounds_from_information",
    "group_sequential_design",
]
