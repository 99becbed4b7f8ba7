"""Installs one package, ``instagan`` (the repository's folders inside it), and the commands instagan-train,
instagan-test, instagan-evaluate, instagan-translate and instagan-export.

In a checkout, instagan/models, instagan/train.py, ... are relative links to the top-level folders and scripts; the
package_dir below builds each subpackage from its real folder, so that an editable install maps ``instagan.*`` alone
(the checkout's other folders, datasets/ and tests/ among them, do not become top-level packages)."""

from pathlib import Path

from setuptools import setup

FOLDERS = ("models", "models.networks", "data", "data.builders", "options", "util", "evaluation", "reporting")
SCRIPTS = ("train", "test", "evaluate", "translate", "export")  # instagan/<name>.py, linked to ./<name>.py

setup(
    name="instagan",
    version="0.2.0",
    description="InstaGAN: instance-aware image-to-image translation (Mo, Cho and Shin, ICLR 2019), on PyTorch 2.4 and newer",
    long_description=(Path(__file__).parent / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="BSD-3-Clause",
    license_files=["LICENSE"],
    project_urls={
        "Paper": "https://arxiv.org/abs/1812.10889",
        "Original implementation": "https://github.com/sangwoomo/instagan",
    },
    python_requires=">=3.10",
    packages=["instagan", *(f"instagan.{folder}" for folder in FOLDERS)],
    package_dir={"instagan": "instagan", **{f"instagan.{folder}": folder.replace(".", "/") for folder in FOLDERS}},
    entry_points={"console_scripts": [f"instagan-{name} = instagan.{name}:entry" for name in SCRIPTS]},
    install_requires=[
        "torch>=2.4",
        "torchvision>=0.19",
        "numpy",
        "pillow",
        "dominate>=2.8",
        "tqdm",
        "pycocotools",
        "torchmetrics>=1.0",
    ],
    extras_require={
        # with [logging] too, the TensorBoard and W&B tests run instead of skipping
        "test": ["pytest>=7", "pytest-xdist", "ruff", "scipy"],
        "typecheck": ["pyright[nodejs]"],  # tests/test_layout.py's pyright test (brings its own Node.js)
        "logging": ["tensorboard", "wandb"],  # train.py --tensorboard, --wandb
        "ccp": ["scipy"],  # datasets/generate_ccp_dataset.py reads .mat files
        # visdom 0.2.4's sdist needs pkg_resources: docs/tips.md: Logging and live display shows how to install it
        "display": ["visdom==0.2.4"],
        "fid": ["torch-fidelity"],  # FID/KID with Inception features in evaluate.py
        "export": ["onnx", "onnxscript", "onnxruntime", "safetensors"],  # export.py and running what it writes
    },
)
