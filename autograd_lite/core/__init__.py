"""The core: the node protocol and engine, the rule table, `Value` and `Tensor`.

Nothing here imports the layers above (transforms, models, tools) or graphviz.
"""
