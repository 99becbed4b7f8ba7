"""Flags of train.py."""

from __future__ import annotations

import argparse

from instagan.options.base_options import BaseOptions


class TrainOptions(BaseOptions):
    is_train = True

    def initialize(self, parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p = super().initialize(parser)
        p.add_argument("--phase", default="train", help="data split: reads <dataroot>/<phase>A and <phase>B")
        # display and logging
        p.add_argument("--display_id", type=int, default=1, help="visdom window id; 0 or less: no visdom")
        p.add_argument("--display_server", default="http://localhost", help="visdom server")
        p.add_argument("--display_env", default="main", help="visdom environment")
        p.add_argument("--display_port", type=int, default=8097, help="visdom port")
        p.add_argument("--display_ncols", type=int, default=4, help="images per row in visdom")
        p.add_argument("--display_freq", type=int, default=400, help="show images every this many training images")
        p.add_argument("--update_html_freq", type=int, default=1000, help="write the HTML page every this many images")
        p.add_argument("--print_freq", type=int, default=100, help="print and log losses every this many images")
        p.add_argument("--no_html", action="store_true", help="do not write the HTML page")
        p.add_argument("--tensorboard", action="store_true", help="also log to TensorBoard, in <run>/tensorboard")
        p.add_argument("--wandb", action="store_true", help="also log to Weights & Biases (pip install wandb)")
        p.add_argument("--wandb_project", default="instagan", help="the Weights & Biases project")
        p.add_argument("--wandb_mode", default="offline", choices=("offline", "online"), help="offline: wandb sync uploads later")
        # saving
        p.add_argument("--save_latest_freq", type=int, default=5000, help="save 'latest' every this many images")
        p.add_argument("--save_epoch_freq", type=int, default=5, help="save '<epoch>' every this many epochs")
        p.add_argument("--continue_train", action="store_true", help="resume from the saved training state of --epoch")
        p.add_argument("--overwrite", action="store_true", help="start over in a run folder that holds a run, deleting it")
        p.add_argument("--epoch_count", type=int, default=1, help="first epoch number of a fresh run")
        # optimisation
        p.add_argument("--niter", type=int, default=100, help="epochs at the initial learning rate")
        p.add_argument("--niter_decay", type=int, default=100, help="epochs of linear decay to zero")
        p.add_argument("--beta1", type=float, default=0.5, help="Adam beta1")
        p.add_argument("--lr", type=float, default=0.0002, help="Adam learning rate")
        p.add_argument("--no_lsgan", action="store_true", help="vanilla GAN loss instead of least squares")
        p.add_argument("--pool_size", type=int, default=50, help="size of the history of generated images for D")
        p.add_argument("--lr_policy", default="lambda", choices=("lambda", "step", "cosine"), help="lambda: linear decay")
        p.add_argument("--lr_decay_iters", type=int, default=50, help="step policy: multiply by 0.1 every this many epochs")
        p.add_argument("--max_nonfinite", type=int, default=5, help="stop when this many updates in a row have non-finite losses")
        return p
