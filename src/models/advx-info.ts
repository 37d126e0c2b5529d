/**
 * advx.json, the file beside a model that declares its bounds, preprocessing, output head and
 * class names: its schema, its validation (one AdvxError naming the first bad field), a labels
 * file's text, and the checks against the network it describes. No file system here: the CLI
 * (node/io/load-model.ts) reads the files, the lab reads uploads, both validate them alike.
 */
import { z } from 'zod';
import { AdvxError } from '../core/errors.ts';
import type { ClassifierInfo } from './classifier.ts';

export const INFO_FILE = 'advx.json';

/** advx.json as read: `labelsFile` is the resolved path of the file the class names were read from. */
export type SavedInfo = Partial<ClassifierInfo> & { labelsFile?: string };

const finite = z.number().refine(Number.isFinite);
/** A dimension: a positive integer, or -1 for one the model leaves free. */
const dimension = z.number().int().refine((d) => d >= 1 || d === -1);

/** advx.json: every key optional, no other key allowed. */
export const infoSchema = z.strictObject({
  inputShape: z.array(dimension).min(1).optional(),
  numClasses: z.number().int().min(2).optional(),
  bounds: z
    .tuple([finite, finite])
    .refine((b) => b[0] < b[1])
    .optional(),
  preprocessing: z
    .strictObject({
      scale: finite.refine((v) => v !== 0).optional(),
      offset: finite.optional(),
      mean: z.array(finite).min(1).optional(),
      std: z
        .array(finite.refine((v) => v > 0))
        .min(1)
        .optional(),
    })
    .optional(),
  output: z.enum(['logits', 'probabilities', 'sigmoid', 'logit']).optional(),
  outputName: z.string().min(1).optional(),
  classNames: z.array(z.string()).min(2).optional(),
  labelsFile: z.string().min(1).optional(),
  dataset: z.string().min(1).optional(),
});

/** What each field must be, for the one line that names a bad one. */
const FIELD_RULES: Record<string, string> = {
  inputShape: 'inputShape must be a list of positive integers without the batch, e.g. [28, 28, 1]',
  numClasses: 'numClasses must be an integer ≥ 2',
  bounds: 'bounds must be [low, high] with low < high',
  preprocessing: 'preprocessing must be an object with optional scale, offset, mean, std',
  'preprocessing.scale': 'preprocessing.scale must be a non-zero number',
  'preprocessing.offset': 'preprocessing.offset must be a number',
  'preprocessing.mean': 'preprocessing.mean must be a list of numbers (one per channel)',
  'preprocessing.std': 'preprocessing.std must be a list of positive numbers (one per channel)',
  output: 'output must be "logits", "probabilities", "sigmoid" (one unit, a probability) or "logit" (one unit, a logit)',
  outputName: "outputName must be a non-empty string naming one of the model's outputs",
  classNames: 'classNames must be a list of at least 2 strings',
  labelsFile: 'labelsFile must be a non-empty path to a text file with one class name per line, relative to advx.json',
  dataset: 'dataset must be a non-empty string naming the dataset, e.g. "mnist"',
};

/** JSON of a value for an error line, cut short. */
function shown(v: unknown): string {
  const s = v === undefined ? 'nothing' : JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}…` : s;
}

/** Validates the content of an advx.json (`where` names it in errors). */
export function parseInfo(raw: unknown, where: string = INFO_FILE): SavedInfo {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new AdvxError(`${where} must hold a JSON object such as {"bounds": [0, 1], "numClasses": 10}, got ${Array.isArray(raw) ? 'an array' : shown(raw)}`);
  }
  const r = infoSchema.safeParse(raw);
  if (r.success) {
    if (r.data.classNames && r.data.labelsFile) throw new AdvxError(`${where}: give classNames or labelsFile, not both`);
    return r.data as SavedInfo;
  }
  const issue = r.error.issues[0];
  if (issue.code === 'unrecognized_keys') {
    const at = issue.path.length ? `${issue.path.join('.')}.` : '';
    const allowed = issue.path[0] === 'preprocessing' ? 'scale, offset, mean, std' : Object.keys(infoSchema.shape).join(', ');
    throw new AdvxError(`${where}: unknown key "${at}${issue.keys[0]}" (allowed: ${allowed})`);
  }
  const [top, second] = issue.path.map(String);
  const field = top === 'preprocessing' && second && FIELD_RULES[`preprocessing.${second}`] ? `preprocessing.${second}` : top;
  let value: unknown = raw;
  for (const k of field.split('.')) value = (value as Record<string, unknown> | undefined)?.[k];
  throw new AdvxError(`${where}: ${FIELD_RULES[field] ?? `${field} is not valid`} (got ${shown(value)})`);
}

/** The text of an advx.json, parsed and validated (`where` names it in errors). */
export function parseInfoText(text: string, where: string = INFO_FILE): SavedInfo {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new AdvxError(`${where} is not valid JSON (${(e as Error).message})`);
  }
  return parseInfo(raw, where);
}

/** A labels file's text (`file` names it): one class name per line; blank lines at the end are ignored, blank lines between names are not. */
export function parseLabels(text: string, file: string): string[] {
  const names = text.replace(/^\uFEFF/, '').split(/\r?\n/).map((l) => l.trim());
  while (names.length > 0 && names.at(-1) === '') names.pop();
  const blank = names.indexOf('');
  if (blank >= 0) throw new AdvxError(`${file}: line ${blank + 1} is blank; a labels file holds one class name per line`);
  if (names.length < 2) throw new AdvxError(`${file} names ${names.length} class${names.length === 1 ? '' : 'es'}; a classifier has at least 2`);
  return names;
}

/** advx.json must agree with the network it describes. */
export function checkInfoAgainstModel(infoPath: string, info: ClassifierInfo, modelShape: number[] | undefined, outputDim: number | undefined, labelsFile?: string, binary = false): void {
  const free = (d: number | null | undefined) => d === undefined || d === null || d === -1;
  if (modelShape && (modelShape.length !== info.inputShape.length || modelShape.some((d, i) => !free(d) && !free(info.inputShape[i]) && d !== info.inputShape[i]))) {
    throw new AdvxError(`${infoPath}: inputShape [${info.inputShape}] does not match the model's input [${modelShape.map((d) => (free(d) ? '?' : d))}]`);
  }
  if (binary && !free(outputDim)) {
    throw new AdvxError(`${infoPath}: output "${info.output}" is a binary head with one output unit, but the model's output has ${outputDim} units`);
  }
  if (!binary && !free(outputDim) && outputDim !== info.numClasses) {
    throw new AdvxError(`${infoPath}: numClasses ${info.numClasses} does not match the model's ${outputDim} outputs`);
  }
  if (info.classNames && info.classNames.length !== info.numClasses) {
    if (labelsFile) throw new AdvxError(`${labelsFile} names ${info.classNames.length} classes but the model has ${info.numClasses}`);
    throw new AdvxError(`${infoPath}: classNames has ${info.classNames.length} names but the model has ${info.numClasses} classes`);
  }
  const channels = info.inputShape.at(-1);
  for (const key of ['mean', 'std'] as const) {
    const v = info.preprocessing?.[key];
    if (v && v.length !== 1 && !free(channels) && v.length !== channels) {
      throw new AdvxError(`${infoPath}: preprocessing.${key} has ${v.length} values but the input has ${channels} channels (give 1 or ${channels})`);
    }
  }
}
