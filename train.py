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
from pathlib import Path

import torch
from tqdm import tqdm

from instagan.data import create_dataloader, create_dataset
from instagan.models import create_model
from instagan.models.trainer import Trainer, TrainingDiverged
from instagan.options.base_options import save_options
from instagan.options.train_options import TrainOptions
from instagan.reporting.training_log import TrainingLog
from instagan.util import checkpoint, cli, distributed
from instagan.util.checkpoint import Counters
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
    run_dir = Path(opt.checkpoints_dir) / opt.name
    problem, lock = None, None
    if context.is_main:
        try:
            lock = FolderLock(run_dir / ".lock", str(run_dir), "wait for it to finish, or choose another --name").acquire()
            checkpoint.recover(run_dir)
            if not opt.continue_train:
                checkpoint.guard_new_run(run_dir, opt.overwrite)
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


def run(opt: argparse.Namespace, context: distributed.Context, say) -> None:
    """The run itself, once its folder is taken."""
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
        save_options(opt, model.save_dir, "train")
    last_epoch = opt.niter + opt.niter_decay
    processes = f", {context.world_size} processes" if context.distributed else ""
    per_process = f" ({opt.batch_size} per process x {context.world_size})" if context.distributed else ""
    images = opt.batch_size * context.world_size
    say(f"{len(dataset)} training samples, epochs {counters.epoch}..{last_epoch}, device {context.device}{processes}; "
        f"batches of {images} images per domain{per_process}; run folder {model.save_dir}")  # fmt: skip
    if opt.continue_train:
        into = f", {counters.epoch_samples} samples into it" if counters.epoch_samples else ""
        say(f"resumed from '{opt.epoch}': epoch {counters.epoch}{into}, learning rate {trainer.learning_rate():.7f}")
    if counters.epoch > last_epoch:
        say(f"nothing to do: the run has finished its {last_epoch} epochs (raise --niter or --niter_decay to go on)")

    skipped: set[str] = set()
    progress = progress_bar(total=max(0, last_epoch - counters.epoch + 1) * len(loader), unit="batch",
                    disable=not context.is_main)  # fmt: skip
    with cli.StopRequests() as stop:
        for epoch in range(counters.epoch, last_epoch + 1):
            loader.sampler.set_epoch(epoch, start=counters.epoch_samples)
            epoch_iter, t_data_start = 0, time.time()
            for i, batch in enumerate(loader):
                t_data, t_start = time.time() - t_data_start, time.time()
                trainer.train_step(batch)
                counters.updates += len(trainer.step_losses)
                skipped.update(path for paths in batch.get("skipped", []) for path in paths.split("|") if path)
                batch_size = next(iter(batch.values())).shape[0]
                counters.advance(batch_size * context.world_size)
                epoch_iter += batch_size * context.world_size
                progress.set_description(f"epoch {epoch}/{last_epoch}", refresh=False)
                progress.update(1)
                if log and (i == 0 or counters.due(opt.display_freq)):
                    save_html = i == 0 or counters.due(opt.update_html_freq)
                    log.images(model.get_current_visuals(), epoch, counters.total_iters, save_html)
                if counters.due(opt.print_freq):
                    losses = distributed.mean_values(model.get_current_losses(), context.device)
                    if log:
                        t_comp = (time.time() - t_start) / batch_size
                        say(
                            log.losses(epoch, epoch_iter, epoch_iter / len(dataset), counters.total_iters, losses, t_comp, t_data)
                        )
                state = log.state_dict() if log else {}
                if distributed.any_true(stop.requested, context.device):
                    trainer.save("latest", counters, state)
                    progress.close()
                    raise cli.Interrupted(
                        f"interrupted: saved 'latest' at epoch {epoch}, {counters.epoch_samples} samples into it, in "
                        f"{model.save_dir}; resume with --continue_train"
                    )
                if counters.due(opt.save_latest_freq):
                    trainer.save("latest", counters, state)
                t_data_start = time.time()

            lr = trainer.update_learning_rate()
            counters.end_epoch(epoch)
            state = log.state_dict() if log else {}
            trainer.save("latest", counters, state)
            if epoch % opt.save_epoch_freq == 0 or epoch == last_epoch:
                trainer.save(epoch, counters, state)
            if log:
                log.end_epoch(epoch)
            say(f"end of epoch {epoch}/{last_epoch}: saved 'latest', learning rate now {lr:.7f}")
    progress.close()
    if log:
        log.close()
    if trainer.skipped_updates:
        say(f"{trainer.skipped_updates} updates were skipped (non-finite losses or gradients, or fp16 overflow)")
    if skipped:
        say(f"{len(skipped)} images could not be read and were skipped: {', '.join(sorted(skipped)[:5])}")
    say(f"done: {counters.updates} updates of the generators and of the discriminators ({counters.total_iters} images); "
        f"checkpoints in {model.save_dir}" + (f", HTML page {log.web_dir / 'index.html'}" if log else ""))  # fmt: skip


def entry() -> None:
    """The console command (instagan-train)."""
    cli.run(main, expected=(TrainingDiverged,))


if __name__ == "__main__":
    entry()
