"""The Python models: work that SQL alone does badly (the identity graph's connected components, iterated to a
fixed point; the channel-level Markov and Shapley models). Each registers itself with c360.dag.project.python_model."""
from c360.steps import channel_models, identity  # noqa: F401
