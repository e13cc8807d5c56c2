// Options several commands share, declared once.
import { Option } from 'commander';
import { OUTPUT_FORMATS } from './format.js';

/** `-o table|json|yaml` */
export function outputOption(formats: readonly string[] = OUTPUT_FORMATS): Option {
  return new Option('-o, --output <format>', 'output format').choices(formats).default(formats[0]);
}
