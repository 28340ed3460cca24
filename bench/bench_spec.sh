# shellcheck shell=bash
# Sourced by the training benchmarks and scripts/gpu-check.sh: the one JobSpec they all time (the
# model of bench/python_trainer.py on Fashion-MNIST, batch 128, SGD with Nesterov momentum,
# cross-entropy) and the median of a column of numbers.

# bench_spec NAME MODEL STEPS [THREADS] [DEVICE] [PRECISION]: MODEL is mlp, cnn or resnet;
# DEVICE a Device value (default DEVICE_CPU), PRECISION a Precision value (default FP32).
bench_spec() {
  local model='model { mlp { hidden: [256, 256] } }'
  [[ $2 == cnn ]] && model='model { cnn { channels: [32, 64] hidden: 128 } }'
  [[ $2 == resnet ]] && model='model { resnet { blocks_per_stage: 1 } }'
  cat <<SPEC
name: "$1"
$model
dataset { fashion_mnist {} test_limit: 1000 }
loss { cross_entropy {} }
optimizer { sgd { momentum: 0.9 nesterov: true } learning_rate: 0.05 }
max_steps: $3
batch_size: 128
seed: 1
log_every_steps: 100
eval { calibration_bins: 15 }
threads: ${4:-1}
device: ${5:-DEVICE_CPU}
precision: ${6:-PRECISION_FP32}
SPEC
}

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
