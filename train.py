"""Train InstaGAN (or the CycleGAN baseline) from the command line.

    python train.py --dataroot ./datasets/shp2gir_coco --name shp2gir_coco_instagan \
        --loadSizeH 220 --loadSizeW 220 --fineSizeH 200 --fineSizeW 200

Checkpoints, options, loss_log.txt and the HTML page go to <checkpoints_dir>/<name>/.
"""

from __future__ import annotations

import sys
import time

from tqdm import tqdm

from data import create_dataloader, create_dataset
from models import create_model
from options.base_options import save_options
from options.train_options import TrainOptions
from util.checkpoint import Counters, load_checkpoint, save_checkpoint
from util.devices import resolve_device
from util.util import seed_everything
from util.visualizer import Visualizer


def main(argv: list[str] | None = None) -> None:
    opt = TrainOptions().parse(argv)
    if opt.seed is not None:
        seed_everything(opt.seed)
    device = resolve_device(opt.gpu_ids)
    dataset = create_dataset(opt)
    loader = create_dataloader(opt, dataset)
    model = create_model(opt, device)
    model.setup()
    visualizer = Visualizer(opt)
    counters = Counters(epoch=opt.epoch_count)
    if opt.continue_train:
        counters, visualizer_state = load_checkpoint(model, opt.epoch)
        visualizer.load_state_dict(visualizer_state)
    save_options(opt, model.save_dir, "train")
    last_epoch = opt.niter + opt.niter_decay
    print(f"{len(dataset)} training samples, epochs {counters.epoch}..{last_epoch}, device {device}; run folder {model.save_dir}")

    progress = tqdm(total=max(0, last_epoch - counters.epoch + 1) * len(loader), unit="batch", dynamic_ncols=True)
    for epoch in range(counters.epoch, last_epoch + 1):
        epoch_iter, t_data_start = 0, time.time()
        for i, batch in enumerate(loader):
            t_data = time.time() - t_data_start
            t_start = time.time()
            model.set_input(batch)
            model.optimize_parameters()
            batch_size = next(iter(batch.values())).shape[0]
            counters.total_iters += batch_size
            epoch_iter += batch_size
            progress.set_description(f"epoch {epoch}/{last_epoch}")
            progress.update(1)
            if i == 0 or counters.total_iters % opt.display_freq < batch_size:
                save_html = counters.total_iters % opt.update_html_freq < batch_size or i == 0
                visualizer.display_current_results(model.get_current_visuals(), epoch, save_html)
            if counters.total_iters % opt.print_freq < batch_size:
                losses = model.get_current_losses()
                t_comp = (time.time() - t_start) / batch_size
                progress.write(visualizer.format_losses(epoch, epoch_iter, losses, t_comp, t_data))
                visualizer.plot_current_losses(epoch, epoch_iter / len(dataset), losses)
            if counters.total_iters % opt.save_latest_freq < batch_size:
                counters.epoch = epoch  # a mid-epoch save resumes at the start of this epoch
                save_checkpoint(model, "latest", counters, visualizer.state_dict())
            t_data_start = time.time()

        lr = model.update_learning_rate()
        counters.epoch = epoch + 1
        save_checkpoint(model, "latest", counters, visualizer.state_dict())
        if epoch % opt.save_epoch_freq == 0 or epoch == last_epoch:
            save_checkpoint(model, epoch, counters, visualizer.state_dict())
        visualizer.write_page(epoch)
        progress.write(f"end of epoch {epoch}/{last_epoch}: saved 'latest', learning rate now {lr:.7f}")
    progress.close()
    print(f"done: checkpoints in {model.save_dir}, HTML page {visualizer.web_dir / 'index.html'}")


if __name__ == "__main__":
    try:
        main()
    except (FileNotFoundError, ValueError, OSError) as err:
        sys.exit(f"error: {err}")
