from setuptools import setup

setup(
    name="instagan",
    version="0.1.0",
    description="InstaGAN: instance-aware image-to-image translation (Mo, Cho and Shin, ICLR 2019), on PyTorch 2.x",
    python_requires=">=3.10",
    packages=["models", "data", "options", "util"],
    py_modules=["train", "test", "evaluate"],
    install_requires=[
        "torch>=2.4,<=2.14.1",
        "torchvision>=0.19,<=0.29.1",
        "numpy",
        "pillow",
        "dominate>=2.8",
        "tqdm",
        "pycocotools",
        "torchmetrics>=1.0",
    ],
    extras_require={
        "test": ["pytest>=7", "ruff", "scipy"],
        "ccp": ["scipy"],  # datasets/generate_ccp_dataset.py reads .mat files
        # visdom 0.2.4's sdist needs pkg_resources; README: Display shows how to install it
        "display": ["visdom==0.2.4"],
        "fid": ["torch-fidelity"],  # FID/KID with Inception features in evaluate.py
    },
)
