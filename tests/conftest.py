"""Test-suite set-up: typecheck every IR after every transform."""

import jitgrad as jg

jg.config.check_ir = True
