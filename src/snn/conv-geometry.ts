/** Output size of a strided, padded, dilated window along one axis (PyTorch/NIR formula). */
export function windowOutSize(input: number, kernel: number, stride: number, padding: number, dilation = 1): number {
  return Math.floor((input + 2 * padding - dilation * (kernel - 1) - 1) / stride) + 1;
}
