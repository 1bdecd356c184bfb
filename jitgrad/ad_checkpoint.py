"""``jax.ad_checkpoint``'s names: rematerialisation and its policies (see ``checkpoint``)."""

from jitgrad.custom_derivatives import checkpoint, checkpoint_name, checkpoint_policies, remat

__all__ = ["checkpoint", "checkpoint_name", "checkpoint_policies", "remat"]
