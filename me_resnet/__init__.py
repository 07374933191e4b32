"""ME-ResNet reproduction kit (Jiang & Zhu, Computer Science 51(11A), 2024).

Importing the package changes nothing in the process: the ``me-resnet`` command
sets TensorFlow's start-up settings (``me_resnet.utils.quiet.prepare_environment``)
before TensorFlow loads; a script or notebook that wants them calls it first.
"""

__version__ = "0.1.0"
