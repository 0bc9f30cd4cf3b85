// Fashion-MNIST as the Debian package dataset-fashion-mnist installs it: four gzip'd IDX files,
// 60,000 training and 10,000 test images of 28x28 grey pixels with labels 0..9.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InvalidInputError } from '../errors.js';
import { readIdxFile } from './idx.js';

export const FASHION_MNIST_APT_PACKAGE = 'dataset-fashion-mnist';
export const FASHION_MNIST_DEFAULT_DIR = '/usr/share/datasets/fashion-mnist';
export const FASHION_MNIST_SIDE = 28;
export const FASHION_MNIST_CLASSES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
] as const;

/** The two parts of the dataset, named as in their file names. */
export const FASHION_MNIST_PARTS = ['train', 't10k'] as const;
export type FashionMnistPart = (typeof FASHION_MNIST_PARTS)[number];

function partFiles(part: FashionMnistPart): { images: string; labels: string } {
  return { images: `${part}-images-idx3-ubyte.gz`, labels: `${part}-labels-idx1-ubyte.gz` };
}

/** The files of the dataset that `dir` lacks (all four when it does not exist). */
export function missingFashionMnistFiles(dir: string): string[] {
  return FASHION_MNIST_PARTS.flatMap((part) => Object.values(partFiles(part))).filter(
    (f) => !fs.existsSync(path.join(dir, f)),
  );
}

export interface FashionMnistImages {
  part: FashionMnistPart;
  count: number;
  /** [count, 28, 28] grey levels 0..255, row-major. */
  pixels: Uint8Array;
  /** [count] class indices 0..9. */
  labels: Uint8Array;
}

/** Reads one part and checks that images and labels agree. */
export function loadFashionMnist(dir: string, part: FashionMnistPart): FashionMnistImages {
  const files = partFiles(part);
  const images = readIdxFile(path.join(dir, files.images));
  const labels = readIdxFile(path.join(dir, files.labels));
  const [count, rows, cols] = images.shape;
  if (images.shape.length !== 3 || rows !== FASHION_MNIST_SIDE || cols !== FASHION_MNIST_SIDE) {
    throw new InvalidInputError(`${files.images}: images are [${images.shape.join(', ')}], expected [n, 28, 28]`);
  }
  if (labels.shape.length !== 1 || labels.shape[0] !== count) {
    throw new InvalidInputError(
      `${files.labels}: labels are [${labels.shape.join(', ')}], expected [${count}] to match the images`,
    );
  }
  const bad = labels.data.findIndex((l) => l >= FASHION_MNIST_CLASSES.length);
  if (bad >= 0)
    throw new InvalidInputError(`${files.labels}: label ${labels.data[bad]} of image ${bad} is outside [0, 10)`);
  return { part, count, pixels: images.data, labels: labels.data };
}
