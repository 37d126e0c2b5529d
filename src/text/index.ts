/** advx's text API (isomorphic): tokenizers, vocabularies, text classifiers, attacks, adversarial training, highlighting. */
export { decodeBytes, htmlToText, messageText, normalizeWhitespace } from './email.ts';
export { charUnits, checkNotEmpty, isWord, tokenize, units, wordUnits, type TextLevel, type Unit } from './tokenize.ts';
export { PAD, TextCodec, UNK, Vocab, type CodecJson, type Encoded } from './vocab.ts';
export { buildTextClassifier, charCnn, TextClassifier, wordCnn, type TextModelSpec } from './models.ts';
export { encodeAll, fitText, textAccuracy, type LabelledTexts, type TextFitOptions } from './train.ts';
export { EditableText, type EditKind, type Rendered, type Segment, type TextEdit } from './edit.ts';
export { escapeHtml, HIGHLIGHT_CSS, highlightAnsi, highlightHtml } from './highlight.ts';
export { embeddingGradients, objective, reached, typos, type TextAttackOptions, type TextAttackResult, type TextGoal, type TextScoreModel } from './attacks/types.ts';
export { liang, type LiangOptions } from './attacks/liang.ts';
export { hotflip, type HotFlipOptions } from './attacks/hotflip.ts';
export { deepWordBug, type DeepWordBugOptions } from './attacks/deepwordbug.ts';
export { matchCase, synonymAttack, type SynonymOptions, type SynonymSource } from './attacks/synonyms.ts';
export { parseTextAttack, runTextAttack, TEXT_ATTACKS, type RunTextAttackOptions, type TextAttackName } from './attacks/index.ts';
export { checkTextAdversarial, embeddingPerturbation, fitTextAdversarial, hotflipIds, TEXT_ADVERSARIAL_METHODS, type HotFlipIdsOptions, type TextAdversarialEpochInfo, type TextAdversarialFitOptions, type TextAdversarialMethod, type TextAdversarialOptions } from './adversarial-training.ts';
