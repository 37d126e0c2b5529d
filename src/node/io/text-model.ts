/**
 * Text classifiers on disk: the TF.js model (model.json + weights.bin) and, beside it, text.json
 * with the codec (level, window, vocabulary) and the class names — the model is useless without
 * the vocabulary that numbered its embedding rows.
 */
import * as tfl from '@tensorflow/tfjs-layers';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AdvxError } from '../../core/errors.ts';
import { TextClassifier } from '../../text/models.ts';
import { TextCodec, type CodecJson } from '../../text/vocab.ts';
import { writeFileAtomic } from './files.ts';
import { fileSystemHandler } from './model-files.ts';

export const TEXT_INFO_FILE = 'text.json';

interface TextInfo extends CodecJson {
  classNames: string[];
  [key: string]: unknown;
}

export async function saveTextClassifier(classifier: TextClassifier, dir: string, extra: Record<string, unknown> = {}): Promise<void> {
  await classifier.model.save(fileSystemHandler(dir));
  const info: TextInfo = { ...extra, ...classifier.codec.toJSON(), classNames: classifier.classNames };
  writeFileAtomic(join(dir, TEXT_INFO_FILE), JSON.stringify(info));
}

export async function loadTextClassifier(dir: string): Promise<TextClassifier> {
  const infoPath = join(dir, TEXT_INFO_FILE);
  if (!existsSync(join(dir, 'model.json'))) throw new AdvxError(`no text model at ${dir}: model.json is missing`);
  if (!existsSync(infoPath)) throw new AdvxError(`${dir} holds a model but no ${TEXT_INFO_FILE} (its vocabulary): is it a text model?`);
  let info: TextInfo;
  try {
    info = JSON.parse(readFileSync(infoPath, 'utf8')) as TextInfo;
  } catch (e) {
    throw new AdvxError(`${infoPath} is not valid JSON (${(e as Error).message})`);
  }
  const codec = TextCodec.fromJSON(info);
  if (!Array.isArray(info.classNames)) throw new AdvxError(`${infoPath} lacks "classNames"`);
  const model = await tfl.loadLayersModel(fileSystemHandler(dir));
  return new TextClassifier(model, codec, info.classNames);
}
