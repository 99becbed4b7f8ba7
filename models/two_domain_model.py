"""What CycleGAN and InstaGAN share: translating between two unpaired domains A and B.

G_A translates A -> B and G_B translates B -> A; D_A judges domain B and D_B judges domain A. Each direction is
translated step by step (``start_sequence``, ``translate_steps``, ``advance``; the loop is ``Trainer.train_step``
in training and ``forward`` in testing): a model with instances (InstaGAN) runs a step per chunk of its instances, a
model without (CycleGAN) one step over whole images. The losses of one step are CycleGAN's: adversarial (LSGAN),
cycle consistency and identity mapping (``generator_losses``, ``discriminator_loss``), to which a subclass adds its
own (``extra_generator_losses``). A test pass returns one ``Translation`` per direction.

Batches: every sample keeps its own instance set. A sample with no instance in a step is not translated in that step
and gives no loss there; a sample with no instance at all passes through.
"""

from __future__ import annotations

import argparse
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from instagan.models import networks
from instagan.models.base_model import BaseModel
from instagan.models.image_pool import ImagePool
from instagan.models.recipe import Update
from instagan.util import instance_set
from instagan.util.flags import non_negative


@dataclass
class Translation:
    """A test pass of one direction, src -> tgt, over a batch. Images are (B, 3, H, W) and masks (B, N, H, W), all in
    [-1, 1]; the N mask slots are the instances translated, in processing order (N = 0 for a model without instances,
    and a slot of a sample with fewer instances is empty). ``slot_steps[k]`` is the sequential step (from 0) that
    translated slot k; ``untranslated_masks`` (B, R, H, W) are the sample's instances beyond ``--ins_max``, which
    were not translated (R = 0 when there are none)."""

    src: str
    tgt: str
    paths: list[str]  # the source image files
    source: torch.Tensor
    source_masks: torch.Tensor
    translated: torch.Tensor
    translated_masks: torch.Tensor
    reconstructed: torch.Tensor
    reconstructed_masks: torch.Tensor
    slot_steps: list[int] = field(default_factory=list)
    untranslated_masks: torch.Tensor | None = None
    step_images: list[torch.Tensor] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.paths)


@dataclass
class Direction:
    """One translation direction, src -> tgt, and its state during a sequence of steps.

    Images are (B, 3, H, W) and masks (B, n, H, W), all in [-1, 1].
    """

    src: str
    tgt: str
    G: nn.Module  # src -> tgt
    G_back: nn.Module  # tgt -> src
    source: torch.Tensor
    source_masks: torch.Tensor  # (B, slots, H, W): the selected instances, in processing order
    untranslated_masks: torch.Tensor  # (B, R, H, W): the instances beyond the selected ones, not translated
    D: nn.Module | None = None  # judges domain tgt
    pool: ImagePool | None = None
    lambda_cyc: float = 10.0
    # the sequence so far
    translated: torch.Tensor | None = None  # the image translated so far, detached
    step_images: list[torch.Tensor] = field(default_factory=list)  # the translated image after each step so far
    translated_masks: list[torch.Tensor] = field(default_factory=list)  # per step (B, n, H, W), detached
    reconstructed_masks: list[torch.Tensor] = field(default_factory=list)
    reconstructed: torch.Tensor | None = None  # reconstruction at each sample's first translated step
    paths: list[str] = field(default_factory=list)  # source image files
    slot_steps: list[int] = field(default_factory=list)  # the step that translates each slot of source_masks

    def translation(self) -> Translation:
        return Translation(self.src, self.tgt, self.paths, self.source, self.source_masks, self.translated,
                           torch.cat(self.translated_masks, dim=1), self.reconstructed,
                           torch.cat(self.reconstructed_masks, dim=1), self.slot_steps, self.untranslated_masks,
                           self.step_images)  # fmt: skip


@dataclass
class Step:
    """The live outputs of one direction in one sequential step, for its active samples only.

    ``active`` (B,) marks the samples with an instance in this step; the other tensors have
    k = active.sum() rows: ``input`` is what G reads, the image translated so far (the source image in step 0)
    with this step's n masks, and ``fake`` / ``rec`` its translation and reconstruction, all (k, 3 + n, H, W);
    ``fake_all`` is the translated image with all masks translated so far, padded with empty slots:
    (k, 3 + slots, H, W). ``idt`` (training only) is G_back applied to ``input``, for the identity loss. All are
    float32, whatever the precision the networks ran in.
    """

    active: torch.Tensor
    input: torch.Tensor
    fake: torch.Tensor
    rec: torch.Tensor
    fake_all: torch.Tensor
    idt: torch.Tensor | None = None

    @property
    def any(self) -> bool:
        return bool(self.active.any())

    @property
    def rows(self) -> torch.Tensor:
        return self.active.nonzero(as_tuple=True)[0]


def split(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, 3 + N, H, W) -> image (B, 3, H, W), masks (B, N, H, W)."""
    return x[:, :3], x[:, 3:]


class TwoDomainModel(BaseModel):
    """The shared machinery; a subclass chooses its networks, its instances and its extra losses."""

    @staticmethod
    def modify_commandline_options(parser: argparse.ArgumentParser, is_train: bool) -> argparse.ArgumentParser:
        if is_train:
            parser.add_argument("--lambda_A", default=10.0, help="weight of the cycle loss A -> B -> A", **non_negative())
            parser.add_argument("--lambda_B", default=10.0, help="weight of the cycle loss B -> A -> B", **non_negative())
            parser.add_argument("--lambda_idt", default=1.0, help="identity loss weight, times lambda_A/B", **non_negative())
        return parser

    def __init__(self, opt: argparse.Namespace, device: torch.device) -> None:
        super().__init__(opt, device)
        self.steps = self.step_plan()
        self.slots = self.steps[-1].stop if self.steps else 0
        self.loss_names = [f"{n}_{d}" for d in "AB" for n in ("D", "G", "cyc", "idt", *self.extra_loss_names)]
        self.model_names = ["G_A", "G_B", "D_A", "D_B"] if self.isTrain else ["G_A", "G_B"]
        self.directions: list[Direction] = []
        self.static_steps: dict[str, networks.FixedShapeStep] | None = None  # src -> G; test passes with --cuda_graphs
        self.static_training = False  # training with --cuda_graphs: every network call with fixed shapes (``run``)
        self.twin_G: networks.TwinSetGenerators | None = None  # --fuse_twins: (G_A, G_B) run as one, and (D_A, D_B)
        self.twin_D: networks.TwinSetDiscriminators | None = None
        self.netG_A = self.make_generator(opt.input_nc, opt.output_nc).to(device)
        self.netG_B = self.make_generator(opt.output_nc, opt.input_nc).to(device)
        if self.isTrain:
            self.netD_A = self.make_discriminator(opt.output_nc).to(device)
            self.netD_B = self.make_discriminator(opt.input_nc).to(device)
            self.fake_A_pool = ImagePool(opt.pool_size)
            self.fake_B_pool = ImagePool(opt.pool_size)
            self.criterionGAN = networks.GANLoss(use_lsgan=not opt.no_lsgan).to(device)
            self.criterionCyc = nn.L1Loss()
            self.criterionIdt = nn.L1Loss()

    # what a subclass chooses ------------------------------------------------------------------------
    extra_loss_names: tuple[str, ...] = ()

    def make_generator(self, input_nc: int, output_nc: int) -> nn.Module:
        o = self.opt
        dropout = not o.no_dropout
        return networks.define_G(input_nc, output_nc, o.ngf, o.netG, o.norm, dropout, o.init_type, o.init_gain, o.n_blocks,
                                 o.upsample, o.context_skip)  # fmt: skip

    def make_discriminator(self, input_nc: int) -> nn.Module:
        o = self.opt
        return networks.define_D(input_nc, o.ndf, o.netD, o.n_layers_D, o.norm, o.init_type, o.init_gain)

    def step_plan(self) -> list[slice]:
        """The mask slots of each sequential step: one step over whole images, without instances."""
        return [slice(0, 0)]

    def select_instances(self, masks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, N, H, W) masks of a batch -> (B, slots, H, W): the instances translated, in processing order, and
        (B, R, H, W): the ones left out. Without instances: none, and none left out (the image is translated whole)."""
        return masks[:, :0], masks[:, :0]

    def active_samples(self, masks: torch.Tensor) -> torch.Tensor:
        """(B,) bool: the samples translated in a step with masks ``masks`` (B, n, H, W): without instances, all."""
        return torch.ones(masks.shape[0], dtype=torch.bool, device=masks.device)

    def extra_generator_losses(self, d: Direction, step: Step) -> dict[str, torch.Tensor]:
        return {}

    # input ---------------------------------------------------------------------------------------
    def set_input(self, batch: dict) -> None:
        """batch: ``A`` (B, 3, H, W), ``A_segs`` (B, N, H, W) (absent without instances), ``A_paths``, the same for ``B``.

        ``--direction BtoA`` swaps the two domains, as in CycleGAN. A batch of one domain (single-domain
        testing) is translated by that domain's generator: ``A`` by G_A, ``B`` by G_B.
        """
        swap = self.opt.direction == "BtoA" and "A" in batch and "B" in batch
        self.directions = []
        for src, tgt in (("A", "B"), ("B", "A")):
            key = {"A": "B", "B": "A"}[src] if swap else src
            if key not in batch:
                continue
            source = self.to_device(batch[key])
            masks = batch.get(f"{key}_segs", torch.empty(source.shape[0], 0, *source.shape[2:]))
            source_masks, untranslated = (self.to_device(m) for m in self.select_instances(masks))
            paths = list(batch[f"{key}_paths"])
            steps = [k for k, chunk in enumerate(self.steps) for _ in range(chunk.start, chunk.stop)]
            d = Direction(src, tgt, getattr(self, f"netG_{src}"), getattr(self, f"netG_{tgt}"), source, source_masks,
                          untranslated, paths=paths, slot_steps=steps)  # fmt: skip
            if self.isTrain:
                d.D = getattr(self, f"netD_{src}")
                d.pool = getattr(self, f"fake_{tgt}_pool")
                d.lambda_cyc = getattr(self.opt, f"lambda_{src}")
            self.directions.append(d)

    # the sequential translation (section 3.3): Trainer.train_step and forward() run its loop ------------------------
    def start_sequence(self) -> None:
        """Before step 0: every direction starts from its source image, with nothing translated yet."""
        for d in self.directions:
            d.translated, d.translated_masks, d.reconstructed_masks, d.step_images = d.source, [], [], []
            d.reconstructed = d.source.clone()

    def translate_steps(self, index: int, training: bool = False) -> list[Step]:
        """Sequential step ``index`` of every direction (one Step each), from the images translated so far; in
        ``training``, with what the losses need (the identity mapping, where there is an identity loss)."""
        identity = training and self.opt.lambda_idt > 0
        if self.twin_G is not None:
            inputs = [self._step_input(d, index) for d in self.directions]
            if self._twins_live([active for _, active, _, _ in inputs]):
                return self._translate_twin_steps(inputs, identity)
        return [self.translate_step(d, index, identity) for d in self.directions]

    def advance(self, index: int, steps: list[Step]) -> None:
        """After step ``index`` (and the trainer's updates): record its detached results; the next step starts from
        the image translated so far."""
        for d, step in zip(self.directions, steps):
            self._advance(d, step, index)

    def translate_step(self, d: Direction, index: int, identity: bool = False) -> Step:
        """Step ``index`` of direction d: its samples with an instance in this step's chunk go through
        G (src -> tgt) and back (cycle), from the image translated so far.

        With ``identity``, G_back also maps the step's input (the identity loss) in the same call as the cycle:
        every sample is translated on its own (unless ``--norm batch``), so one call on both batches gives what
        two calls would, faster.
        """
        masks, active, pick, x = self._step_input(d, index)
        idt = None
        if self.static_steps is not None and not torch.is_grad_enabled():
            x, fake, rec = self._static_translation(d, masks, pick)
        else:
            fake = rec = idt = x  # nothing to translate in this step: no network call on an empty batch
            if active.any():
                fake, idt = self.run(d.G, x, len(active)).float(), None
                if identity and self.opt.norm != "batch":  # batch norm would mix the two batches' statistics
                    rec, idt = self.run(d.G_back, torch.cat([fake, x]), 2 * len(active)).float().chunk(2)
                else:
                    rec = self.run(d.G_back, fake, len(active)).float()
        return self._step(d, active, pick, x, fake, rec, idt)

    def _step_input(self, d: Direction, index: int) -> tuple[torch.Tensor, torch.Tensor, Callable, torch.Tensor]:
        """Step ``index`` of direction d: its masks (B, n, H, W), the samples with an instance among them (B,), the
        function that keeps those samples' rows, and what G reads: their image translated so far with the masks."""
        masks = d.source_masks[:, self.steps[index]]
        active = self.active_samples(masks)
        rows = active.nonzero(as_tuple=True)[0]
        pick = (lambda t: t) if len(rows) == len(active) else (lambda t: t[rows])  # noqa: E731
        return masks, active, pick, torch.cat([pick(d.translated), pick(masks)], dim=1)

    def _step(self, d: Direction, active: torch.Tensor, pick: Callable, x: torch.Tensor, fake: torch.Tensor,
              rec: torch.Tensor, idt: torch.Tensor | None) -> Step:  # fmt: skip
        done = [pick(m) for m in d.translated_masks]
        fake_img, fake_masks = split(fake)
        fake_all = instance_set.pad_slots(torch.cat([fake_img, *done, fake_masks], dim=1), 3 + self.slots)
        return Step(active, x, fake, rec, fake_all, idt)

    def _twins_live(self, actives: list[torch.Tensor]) -> bool:
        """Whether a fused call can serve both directions: two of them, of one batch size, each with a sample to
        translate."""
        return len(actives) == 2 and len(actives[0]) == len(actives[1]) and all(bool(a.any()) for a in actives)

    def _translate_twin_steps(self, inputs: list[tuple], identity: bool) -> list[Step]:
        """``translate_step`` of both directions with the twins fused (``--fuse_twins``), from their ``_step_input``:
        G_A and G_B translate in one call, and map back (the cycle, with the identity mapping) in another."""
        assert self.twin_G is not None and self.directions[0].G is self.twin_G.first  # (A -> B is the first twin's)
        (_, active_a, pick_a, x_a), (_, active_b, pick_b, x_b) = inputs
        rows, weights = len(active_a), self.twin_G.weights()
        fake_a, fake_b = (f.float() for f in self.run_twins(self.twin_G, x_a, x_b, rows, weights))  # A -> B, B -> A
        if identity:  # G_A maps B -> A -> B and B (direction B's), G_B direction A's
            back_b, back_a = self.run_twins(self.twin_G, torch.cat([fake_b, x_b]), torch.cat([fake_a, x_a]), 2 * rows, weights)
            (rec_a, idt_a), (rec_b, idt_b) = back_a.float().chunk(2), back_b.float().chunk(2)
        else:
            back_b, back_a = self.run_twins(self.twin_G, fake_b, fake_a, rows, weights)
            (rec_a, idt_a), (rec_b, idt_b) = (back_a.float(), None), (back_b.float(), None)
        d_a, d_b = self.directions
        return [self._step(d_a, active_a, pick_a, x_a, fake_a, rec_a, idt_a),
                self._step(d_b, active_b, pick_b, x_b, fake_b, rec_b, idt_b)]  # fmt: skip

    def run_twins(self, twins: Callable, x1: torch.Tensor, x2: torch.Tensor, rows: int, *args) -> tuple[torch.Tensor, ...]:
        """``twins(x1, x2, *args)``, the first twin on x1 and the second on x2, each padded to ``rows`` rows as
        ``run`` pads them (fixed shapes, which both twins share)."""
        outs = twins(*(self.padded(x, rows) for x in (x1, x2)), *args)
        return tuple(out[: len(x)] for out, x in zip(outs, (x1, x2)))

    @staticmethod
    def padded(x: torch.Tensor, rows: int) -> torch.Tensor:
        """x (k, C, H, W) with blank rows (an empty image and empty slots) up to ``rows``."""
        k = x.shape[0]
        return x if k >= rows else torch.cat([x, x.new_full((rows - k, *x.shape[1:]), instance_set.EMPTY)])

    def run(self, net: nn.Module, x: torch.Tensor, rows: int) -> torch.Tensor:
        """``net(x)``. In training with fixed shapes (``static_training``), ``net.forward_static`` on x padded to
        ``rows`` rows (the batch size, or twice it for two batches in one call) with blank ones (an empty image and
        empty slots), so that a network sees the same shapes in every step, whatever the number of samples with an
        instance in it: each sample is computed on its own, so x's rows get what ``net(x)`` gives them."""
        if not self.static_training:
            return net(x)
        return net.forward_static(self.padded(x, rows))[: x.shape[0]]

    def _static_translation(
        self, d: Direction, masks: torch.Tensor, pick: Callable[[torch.Tensor], torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The step's input, translation and reconstruction without gradients and with fixed shapes
        (``networks.FixedShapeStep``): G and G_back run on every sample and every slot; ``pick`` keeps the translated
        samples' rows."""
        assert self.static_steps is not None
        x = torch.cat([d.translated, masks], dim=1)
        fake = self.static_steps[d.src](x)
        rec = self.static_steps[d.tgt](fake)
        return pick(x), pick(fake).float(), pick(rec).float()

    def _advance(self, d: Direction, step: Step, index: int) -> None:
        """Record a step's (detached) results: the next step starts from the translated image."""
        masks = d.source_masks[:, self.steps[index]]
        rows = step.rows
        fake_img, fake_masks = split(step.fake.detach())
        rec_img, rec_masks = split(step.rec.detach())
        if index == 0:
            d.reconstructed = d.reconstructed.index_copy(0, rows, rec_img)
        d.translated = d.translated.index_copy(0, rows, fake_img)
        d.step_images.append(d.translated)
        d.translated_masks.append(masks.index_copy(0, rows, fake_masks))
        d.reconstructed_masks.append(masks.index_copy(0, rows, rec_masks))

    def forward(self) -> None:
        """The test pass: every sequential step in turn, without updates in between."""
        self.start_sequence()
        for index in range(len(self.steps)):
            self.advance(index, self.translate_steps(index))

    def translate(self) -> list[Translation]:
        """The test pass over the current input: one Translation per direction, without gradients, in --precision."""
        self.test()
        return [d.translation() for d in self.directions]

    def get_current_visuals(self) -> OrderedDict[str, torch.Tensor]:
        """The images of the last pass by name (``real_A_img``, ``fake_B_img``, ``rec_A_img``; with instances also the
        union of each set of masks: ``real_A_seg``, ``fake_B_seg``, ``rec_A_seg``), for the training page."""
        visuals = OrderedDict()
        for t in (d.translation() for d in self.directions):
            parts = (("real", t.src, t.source, t.source_masks), ("fake", t.tgt, t.translated, t.translated_masks),
                     ("rec", t.src, t.reconstructed, t.reconstructed_masks))  # fmt: skip
            for kind, domain, image, _ in parts:
                visuals[f"{kind}_{domain}_img"] = image
            for kind, domain, _, masks in parts if self.slots else ():
                visuals[f"{kind}_{domain}_seg"] = instance_set.merge(masks)
        return visuals

    # losses --------------------------------------------------------------------------------------
    def generator_losses(self, d: Direction, step: Step, judged: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Losses of G for direction src -> tgt in one step, keyed by their original names; ``judged``: D's output on
        ``step.fake_all`` where the caller has it (``--fuse_twins``)."""
        opt = self.opt
        if judged is None:
            judged = self.run(d.D, step.fake_all, len(step.active))
        losses = {
            f"G_{d.src}": self.criterionGAN(judged, True),
            f"cyc_{d.src}": self.criterionCyc(step.rec, step.input) * d.lambda_cyc,
        }
        if opt.lambda_idt > 0:
            idt = self.run(d.G_back, step.input, len(step.active)).float() if step.idt is None else step.idt
            losses[f"idt_{d.tgt}"] = self.criterionIdt(idt, step.input) * d.lambda_cyc * opt.lambda_idt
        losses.update(self.extra_generator_losses(d, step))
        return losses

    def discriminator_loss(self, d: Direction, step: Step, real_tgt: torch.Tensor) -> torch.Tensor:
        """LSGAN loss of the discriminator of domain tgt: real images with all their selected masks
        against translated ones drawn through the history pool."""
        fake = d.pool.query(step.fake_all.detach())
        return self.discriminator_loss_of(self.run(d.D, real_tgt, len(real_tgt)), self.run(d.D, fake, len(step.active)))

    def discriminator_loss_of(self, judged_real: torch.Tensor, judged_fake: torch.Tensor) -> torch.Tensor:
        """D's GAN loss (``--no_lsgan``: the vanilla one) from its outputs on real and on translated images."""
        return (self.criterionGAN(judged_real, True) + self.criterionGAN(judged_fake, False)) * 0.5

    # the training recipe, which the trainer carries out ---------------------------------------------------
    def training_recipe(self) -> list[Update]:
        """The updates of every sequential step, in order (what CycleGAN's ``optimize_parameters`` does): the
        generators on their losses with the discriminators frozen, then the discriminators on the images the
        generators translated in the step; each with Adam at ``--lr``, betas (``--beta1``, 0.999)."""
        o = self.opt
        generators, discriminators = self.generator_networks(), self.discriminator_networks()
        return [  # --ema_decay: a moving average of G's weights, for test.py --ema
            Update("G", generators, self.step_generator_losses, o.lr, (o.beta1, 0.999), frozen=list(discriminators.values()),
                   average=o.ema_decay),
            Update("D", discriminators, self.step_discriminator_losses, o.lr, (o.beta1, 0.999)),
        ]

    def generator_networks(self) -> dict[str, nn.Module]:
        return {name: getattr(self, f"net{name}") for name in ("G_A", "G_B")}

    def discriminator_networks(self) -> dict[str, nn.Module]:
        return {name: getattr(self, f"net{name}") for name in ("D_A", "D_B")}

    def step_generator_losses(self, live: list[tuple[Direction, Step]]) -> dict[str, torch.Tensor]:
        """The losses of G for the directions with something to translate in a step (D is frozen meanwhile)."""
        judged: list[torch.Tensor | None] = [None] * len(live)
        if self.twin_D is not None and self._twins_live([step.active for _, step in live]):
            (d_a, step_a), (_, step_b) = live
            assert d_a.D is self.twin_D.first  # (A -> B is judged by the first twin)
            judged = list(self.run_twins(self.twin_D, step_a.fake_all, step_b.fake_all, len(step_a.active)))
        losses: dict[str, torch.Tensor] = {}
        for (d, step), by_d in zip(live, judged):
            losses.update(self.generator_losses(d, step, by_d))
        return losses

    def step_discriminator_losses(self, live: list[tuple[Direction, Step]]) -> dict[str, torch.Tensor]:
        """The losses of D for the directions with something to translate in a step, on the images translated in it."""
        real = {d.src: torch.cat([d.source, d.source_masks], dim=1) for d in self.directions}
        if self.twin_D is None or not self._twins_live([step.active for _, step in live]):
            return {f"D_{d.src}": self.discriminator_loss(d, step, real[d.tgt]) for d, step in live}
        # --fuse_twins: D_A and D_B judge the real images in one call, then the pool's translations (each its own
        # pool, drawn in the same order as above)
        assert live[0][0].D is self.twin_D.first
        fakes = [d.pool.query(step.fake_all.detach()) for d, step in live]
        rows = len(live[0][1].active)
        judged_real = self.run_twins(self.twin_D, *(real[d.tgt] for d, _ in live), rows)
        judged_fake = self.run_twins(self.twin_D, *fakes, rows)
        return {f"D_{d.src}": self.discriminator_loss_of(r, f) for (d, _), r, f in zip(live, judged_real, judged_fake)}

    def live_directions(self, steps: list[Step]) -> list[tuple[Direction, Step]]:
        return [(d, step) for d, step in zip(self.directions, steps) if step.any]

    # checkpoint extras ---------------------------------------------------------------------------
    def extra_state(self) -> dict:
        return {"fake_A_pool": self.fake_A_pool.state_dict(), "fake_B_pool": self.fake_B_pool.state_dict()}

    def load_extra_state(self, state: dict) -> None:
        for name in ("fake_A_pool", "fake_B_pool"):
            if name in state:
                getattr(self, name).load_state_dict(state[name])
