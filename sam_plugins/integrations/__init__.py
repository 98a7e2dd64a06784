"""SAM in the tools users already run while they train: TensorBoard
(`sam_plugins.integrations.tensorboard.log_sam`) and Lightning
(`sam_plugins.integrations.lightning.SAMCallback`).

Each submodule imports its tool only when it is imported itself; importing this package imports
neither tensorboard nor lightning. `summaries` (images and scalars of a result, framework-free)
is what both write.
"""
