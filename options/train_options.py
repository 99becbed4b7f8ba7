"""Flags of train.py."""

from __future__ import annotations

import argparse

from instagan.options.base_options import BaseOptions
from instagan.util.flags import at_least, folder_name, fraction_below, positive


class TrainOptions(BaseOptions):
    is_train = True
    description = (
        "Train InstaGAN (or --model cycle_gan) on two unpaired domains of images with instance masks. Checkpoints, "
        "options, loss_log.txt and an HTML page with pictures and loss curves go to <checkpoints_dir>/<name>/; "
        "--continue_train resumes a run where it stopped. scripts/train_<set>.sh hold the commands of each data set."
    )

    def initialize(self, parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p = super().initialize(parser)
        self.groups["data"].add_argument(
            "--phase", type=folder_name, default="train", help="data split: reads <dataroot>/<phase>A and <phase>B"
        )
        t, show = self.groups["training"], self.groups["display"]
        t.add_argument("--niter", default=100, help="epochs at the initial learning rate", **at_least(0))
        t.add_argument("--niter_decay", default=100, help="then epochs of linear decay (the last at lr / (niter_decay + 1))",
                       **at_least(0))  # fmt: skip
        t.add_argument("--lr", default=0.0002, help="Adam learning rate", **positive())
        t.add_argument("--beta1", default=0.5, help="Adam beta1", **fraction_below(1))
        t.add_argument("--lr_policy", default="lambda", choices=("lambda", "step", "cosine"), help="lambda: linear decay")
        t.add_argument("--lr_decay_iters", default=50, help="step policy: multiply by 0.1 every this many epochs", **at_least(1))
        t.add_argument("--no_lsgan", action="store_true", help="vanilla GAN loss instead of least squares")
        t.add_argument("--pool_size", default=50, help="size of the history of generated images for D", **at_least(0))
        t.add_argument("--ema_decay", default=0.0, help="also keep a moving average of the generators' weights, each "
                       "generator step taken moving it by 1 - this (e.g. 0.995), saved beside them as <epoch>_net_G_A_ema.pth "
                       "for test.py --ema; 0: none, as in the original", **fraction_below(1))  # fmt: skip
        t.add_argument("--max_nonfinite", default=5, help="stop when this many updates in a row have non-finite losses",
                       **at_least(1))  # fmt: skip
        t.add_argument("--fuse_twins", action="store_true", help="InstaGAN: run G_A and G_B as one network, and D_A and "
                       "D_B (grouped convolutions: fewer calls, the same arithmetic); every call with fixed shapes, as "
                       "with --cuda_graphs. The same training, float rounding apart (without --dropout)")  # fmt: skip
        t.add_argument("--continue_train", action="store_true", help="resume from the saved training state of --epoch")
        t.add_argument("--overwrite", action="store_true", help="start over in a run folder that holds a run, deleting it")
        t.add_argument("--epoch_count", default=1, help="first epoch number of a fresh run", **at_least(1))
        t.add_argument("--save_latest_freq", default=5000, help="save 'latest' every this many images", **at_least(1))
        t.add_argument("--save_epoch_freq", default=5, help="save '<epoch>' every this many epochs", **at_least(1))
        show.add_argument("--print_freq", default=100, help="print and log losses every this many images", **at_least(1))
        show.add_argument("--display_freq", default=400, help="show images every this many training images", **at_least(1))
        show.add_argument("--update_html_freq", default=1000, help="write the HTML page every this many images", **at_least(1))
        show.add_argument("--no_html", action="store_true", help="do not write the HTML page")
        show.add_argument("--display_id", type=int, default=1, help="visdom window id; 0 or less: no visdom")
        show.add_argument("--display_server", default="http://localhost", help="visdom server")
        show.add_argument("--display_env", default="main", help="visdom environment")
        show.add_argument("--display_port", type=int, default=8097, help="visdom port")
        show.add_argument("--display_ncols", default=4, help="images per row in visdom", **at_least(1))
        show.add_argument("--tensorboard", action="store_true", help="also log to TensorBoard, in <run>/tensorboard")
        show.add_argument("--wandb", action="store_true", help="also log to Weights & Biases (pip install wandb)")
        show.add_argument("--wandb_project", default="instagan", help="the Weights & Biases project")
        show.add_argument(
            "--wandb_mode", default="offline", choices=("offline", "online"), help="offline: wandb sync uploads later"
        )
        return p

    def validate(self, opt: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
        super().validate(opt, parser)
        if opt.niter + opt.niter_decay < 1:
            parser.error(f"--niter {opt.niter} plus --niter_decay {opt.niter_decay} is no epoch at all: train at least one")
