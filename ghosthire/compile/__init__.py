"""Compile the rule pack into each target's queries through pySigma."""

from ghosthire.compile.compiler import CompiledRule, TargetOutput, compile_pack, compile_target
from ghosthire.compile.targets import Target, load_targets

__all__ = ["CompiledRule", "Target", "TargetOutput", "compile_pack", "compile_target", "load_targets"]
