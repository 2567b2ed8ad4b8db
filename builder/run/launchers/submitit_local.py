"""Hydra's submitit launcher, local mode: submitit's job handling without a cluster."""

HYDRA_NAME = "submitit_local"
PACKAGE = "hydra-submitit-launcher"
PLUGIN_MODULE = "hydra_plugins.hydra_submitit_launcher"
