"""`tfvae` CLI in a process whose CPU is split into two logical devices (for MirroredStrategy over
"/cpu:0,/cpu:1"). Run as a script: the split must happen before TensorFlow runs any op."""

import sys

import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

from tfvae import cli  # noqa: E402

sys.exit(cli.main(sys.argv[1:]))
