"""Binary-endpoint designs by name (merged into the main design registry by the lead)."""

from __future__ import annotations

from simtrial.designs.binary import TwoArmBinaryDesign
from simtrial.designs.simon_two_stage import SimonTwoStageDesign
from simtrial.designs.single_arm import SingleArmBinaryDesign

BINARY_DESIGNS = {
    "binary": TwoArmBinaryDesign(),
    "single_arm_binary": SingleArmBinaryDesign(),
    "simon_two_stage": SimonTwoStageDesign(),
}
