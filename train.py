"""Train InstaGAN (or the CycleGAN baseline) from the command line.

    python train.py --dataroot ./datasets/shp2gir_coco --name shp2gir_coco_instagan \
        --loadSizeH 220 --loadSizeW 220 --fineSizeH 200 --fineSizeW 200
    torchrun --nproc_per_node 4 train.py ...     # or --gpu_ids 0,1,2,3: one process per GPU, DDP

Checkpoints, options, loss_log.txt and the HTML page go to <checkpoints_dir>/<name>/. Ctrl-C saves 'latest' and
stops; --continue_train resumes where the run stopped, in the middle of an epoch too.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from tqdm import tqdm

from instagan.data import create_dataloader, create_dataset
from instagan.models import create_model
from instagan.models.checkpoint import Counters
from instagan.models.run import Run
from instagan.models.trainer import Trainer, TrainingDiverged
from instagan.options.base_options import save_options
from instagan.options.train_options import TrainOptions
from instagan.reporting.training_log import TrainingLog
from instagan.util import cli, distributed
from instagan.util.files import FolderLock
from instagan.util.progress import progress_bar
from instagan.util.randomness import seed_everything


def main(argv: list[str] | None = None) -> None:
    opt = TrainOptions().parse(argv)
    if len(opt.gpu_ids) > 1 and not distributed.launched() and torch.cuda.is_available():
        processes = len(opt.gpu_ids)  # one DDP process per GPU, sharing --batch_size as the original's DataParallel did
        distributed.spawn(main, per_process_argv(argv, opt.batch_size, processes), processes, expected=(TrainingDiverged,))
        return
    context = distributed.setup(opt.gpu_ids)
    try:
        train(opt, context)
    finally:
        distributed.cleanup()


def per_process_argv(argv: list[str] | None, batch_size: int, processes: int) -> list[str]:
    """The flags of each process that ``--gpu_ids 0,1,...`` starts: ``--batch_size`` is the batch of all of them together,
    as with the original's ``--gpu_ids`` (under torchrun, as in every DDP script, it is per process)."""
    if batch_size % processes:
        raise cli.UserError(
            f"--batch_size {batch_size} is shared by the {processes} GPUs of --gpu_ids: give a multiple of {processes} "
            f"(or start one process per GPU with torchrun, where --batch_size is per process)"
        )
    return [*(sys.argv[1:] if argv is None else argv), "--batch_size", str(batch_size // processes)]


def prepare_run_folder(opt: argparse.Namespace, context: distributed.Context) -> FolderLock | None:
    """Take the run folder for this run (rank 0 holds its lock until the run ends; a second run with the same --name
    refuses); finish or clean up an interrupted save; refuse to start over a run unless --continue_train or
    --overwrite. Returns the lock to release."""
    problem, lock = None, None
    if context.is_main:
        try:
            folder = Run.of(opt)
            lock = folder.lock()
            folder.prepare(opt.continue_train, opt.overwrite)
        except cli.UserError as err:
            problem = err
            if lock is not None:
                lock.release()
    if not distributed.all_true(problem is None, context.device):
        raise problem or cli.UserError("rank 0 refused to start the run (see its error)")
    return lock


def train(opt: argparse.Namespace, context: distributed.Context) -> None:
    def say(message: str) -> None:
        if context.is_main:
            tqdm.write(message)

    lock = prepare_run_folder(opt, context)
    try:
        run(opt, context, say)
    finally:
        if lock is not None:
            lock.release()


@dataclass
class Training:
    """A training run once it is set up: what the epoch loop and the bookkeeping of each batch work on."""

    opt: argparse.Namespace
    context: distributed.Context
    say: Callable[[str], None]
    dataset: Any
    model: Any
    trainer: Trainer
    loader: Any
    counters: Counters
    log: TrainingLog | None
    last_epoch: int
    skipped: set[str] = field(default_factory=set)  # images that could not be read


def set_up(opt: argparse.Namespace, context: distributed.Context, say: Callable[[str], None]) -> Training:
    """Data, model, trainer, counters (resumed with --continue_train), log and loader; says what the run will do."""
    if opt.seed is not None:
        seed_everything(opt.seed)
    dataset = create_dataset(opt)
    say(dataset.describe())
    model = create_model(opt, context.device)
    model.setup()
    trainer = Trainer(model, opt, context)
    if opt.seed is not None and context.distributed:
        seed_everything(opt.seed + context.rank)  # same initial weights, different random crops per process
    seed = opt.seed if opt.seed is not None else random.SystemRandom().randrange(2**31)
    counters, log_state = Counters(epoch=opt.epoch_count, data_seed=distributed.gather(seed)[0]), {}
    if opt.continue_train:
        counters, log_state = trainer.resume(opt.epoch)
    log = TrainingLog(opt) if context.is_main else None
    if log:
        log.load_state_dict(log_state)
    loader = create_dataloader(opt, dataset, context.rank, context.world_size, counters.data_seed)
    if context.is_main:
        save_options(opt, model.run_folder.folder, "train")
    last_epoch = opt.niter + opt.niter_decay
    processes = f", {context.world_size} processes" if context.distributed else ""
    per_process = f" ({opt.batch_size} per process x {context.world_size})" if context.distributed else ""
    images = opt.batch_size * context.world_size
    say(f"{len(dataset)} training samples, epochs {counters.epoch}..{last_epoch}, device {context.device}{processes}; "
        f"batches of {images} images per domain{per_process}; run folder {model.run_folder.folder}")  # fmt: skip
    if opt.continue_train:
        into = f", {counters.epoch_samples} samples into it" if counters.epoch_samples else ""
        say(f"resumed from '{opt.epoch}': epoch {counters.epoch}{into}, learning rate {trainer.learning_rate():.7f}")
    if counters.epoch > last_epoch:
        say(f"nothing to do: the run has finished its {last_epoch} epochs (raise --niter or --niter_decay to go on)")
    return Training(opt, context, say, dataset, model, trainer, loader, counters, log, last_epoch)


def run(opt: argparse.Namespace, context: distributed.Context, say: Callable[[str], None]) -> None:
    """The run itself, once its folder is taken: set up, the epochs, and what it did."""
    r = set_up(opt, context, say)
    progress = progress_bar(total=max(0, r.last_epoch - r.counters.epoch + 1) * len(r.loader), unit="batch",
                            disable=not context.is_main)  # fmt: skip
    with cli.StopRequests() as stop:
        for epoch in range(r.counters.epoch, r.last_epoch + 1):
            train_epoch(r, epoch, progress, stop)
            end_epoch(r, epoch)
    progress.close()
    if r.log:
        r.log.close()
    if r.trainer.skipped_updates:
        say(f"{r.trainer.skipped_updates} updates were skipped (non-finite losses or gradients, or fp16 overflow)")
    if r.skipped:
        say(f"{len(r.skipped)} images could not be read and were skipped: {', '.join(sorted(r.skipped)[:5])}")
    page = f", HTML page {r.log.web_dir / 'index.html'}" if r.log else ""
    say(f"done: {r.counters.updates} updates of the generators and of the discriminators ({r.counters.total_iters} "
        f"images); checkpoints in {r.model.run_folder.folder}{page}")  # fmt: skip


def train_epoch(r: Training, epoch: int, progress, stop: cli.StopRequests) -> None:
    """One epoch's batches (the rest of it, when the run resumed in its middle)."""
    r.loader.sampler.set_epoch(epoch, start=r.counters.epoch_samples)
    epoch_iter, t_data_start = 0, time.time()
    for i, batch in enumerate(r.loader):
        t_data, t_start = time.time() - t_data_start, time.time()
        r.trainer.train_step(batch)
        epoch_iter += after_batch(r, epoch, i, batch, epoch_iter, (t_data, t_start))
        progress.set_description(f"epoch {epoch}/{r.last_epoch}", refresh=False)
        progress.update(1)
        if distributed.any_true(stop.requested, r.context.device):  # Ctrl-C in any process: save and stop
            r.trainer.save("latest", r.counters, r.log.state_dict() if r.log else {})
            progress.close()
            raise cli.Interrupted(
                f"interrupted: saved 'latest' at epoch {epoch}, {r.counters.epoch_samples} samples into it, in "
                f"{r.model.run_folder.folder}; resume with --continue_train"
            )
        if r.counters.due(r.opt.save_latest_freq):
            r.trainer.save("latest", r.counters, r.log.state_dict() if r.log else {})
        t_data_start = time.time()


def after_batch(r: Training, epoch: int, i: int, batch: dict, epoch_iter: int, times: tuple[float, float]) -> int:
    """The bookkeeping of one batch: counters, unreadable images, pictures and losses when due. Returns the images
    (of all processes) the batch held."""
    opt, counters, log = r.opt, r.counters, r.log
    counters.updates += len(r.trainer.step_losses)
    r.skipped.update(path for paths in batch.get("skipped", []) for path in paths.split("|") if path)
    batch_size = next(iter(batch.values())).shape[0]
    images = batch_size * r.context.world_size
    counters.advance(images)
    if log and (i == 0 or counters.due(opt.display_freq)):
        save_html = i == 0 or counters.due(opt.update_html_freq)
        log.images(r.model.get_current_visuals(), epoch, counters.total_iters, save_html)
    if counters.due(opt.print_freq):
        losses = distributed.mean_values(r.model.get_current_losses(), r.context.device)
        if log:
            t_data, t_start = times
            t_comp = (time.time() - t_start) / batch_size
            done = epoch_iter + images
            r.say(log.losses(epoch, done, done / len(r.dataset), counters.total_iters, losses, t_comp, t_data))
    return images


def end_epoch(r: Training, epoch: int) -> None:
    """The learning rate's next epoch, 'latest' and (every --save_epoch_freq epochs, and the last) the epoch's own
    checkpoint. An epoch that ends without a single update (no batch held an instance) stops the run: it would save
    untrained networks."""
    if r.counters.updates == 0:
        raise cli.UserError(f"epoch {epoch} trained nothing: no batch held an instance (every mask empty, or cropped away: "
                            f"check the masks in {r.opt.dataroot} and --resize_or_crop); no checkpoint was saved")  # fmt: skip
    lr = r.trainer.update_learning_rate()
    r.counters.end_epoch(epoch)
    state = r.log.state_dict() if r.log else {}
    r.trainer.save("latest", r.counters, state)
    if epoch % r.opt.save_epoch_freq == 0 or epoch == r.last_epoch:
        r.trainer.save(epoch, r.counters, state)
    if r.log:
        r.log.end_epoch(epoch)
    r.say(f"end of epoch {epoch}/{r.last_epoch}: saved 'latest', learning rate now {lr:.7f}")


def entry() -> None:
    """The console command (instagan-train)."""
    cli.run(main, expected=(TrainingDiverged,))


if __name__ == "__main__":
    entry()
