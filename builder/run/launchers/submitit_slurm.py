"""Hydra's submitit launcher on a SLURM cluster: one SLURM job per cell
(hydra.launcher.partition=..., hydra.launcher.gpus_per_node=... on the command line)."""

HYDRA_NAME = "submitit_slurm"
PACKAGE = "hydra-submitit-launcher"
PLUGIN_MODULE = "hydra_plugins.hydra_submitit_launcher"
