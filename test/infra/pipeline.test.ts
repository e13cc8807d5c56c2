// Checks cloudbuild.yaml (tests before deploy, known substitutions and variables) and that each check catches a broken copy.
import { readFile } from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { loadInfra } from './load.js';
import { buildModel, isRecord } from './model.js';
import { checkPipelineInputs, checkPipelineOrder } from './pipeline-checks.js';

const PIPELINE = new URL('../../cloudbuild.yaml', import.meta.url);

let raw = '';
let declared: string[] = [];

beforeAll(async () => {
  raw = await readFile(PIPELINE, 'utf8');
  declared = Object.keys(buildModel((await loadInfra()).map((f) => f.json)).variables);
});

type Doc = { steps: Record<string, unknown>[]; substitutions: Record<string, unknown> };

function doc(): Doc {
  const d: unknown = parseYaml(raw);
  if (!isRecord(d) || !Array.isArray(d.steps)) throw new Error('cloudbuild.yaml has no steps');
  return d as Doc;
}

const stepById = (d: Doc, id: string) => {
  const s = d.steps.find((x) => x.id === id);
  if (!s) throw new Error(`no step ${id}`);
  return s;
};

describe('cloudbuild.yaml as committed', () => {
  it('runs install, test, build, terraform init, terraform apply in order', () => {
    expect(checkPipelineOrder(doc())).toEqual([]);
  });

  it('uses only defined substitutions and declared Terraform variables', () => {
    expect(declared).toContain('project_id');
    expect(checkPipelineInputs(doc(), raw, declared)).toEqual([]);
  });
});

describe('pipeline checks report a broken copy', () => {
  const ORDER_CASES: { name: string; expect: string; mutate: (d: Doc) => void }[] = [
    {
      name: 'tests moved after the deploy',
      expect: 'test must run before build',
      mutate: (d) => {
        const test = stepById(d, 'test');
        d.steps = [...d.steps.filter((s) => s !== test), test];
      },
    },
    {
      name: 'tests dropped',
      expect: 'stage test appears 0 times',
      mutate: (d) => {
        d.steps = d.steps.filter((s) => s.id !== 'test');
      },
    },
    {
      name: 'terraform apply allowed to start early',
      expect: 'waitFor would let steps run out of order',
      mutate: (d) => {
        stepById(d, 'terraform-apply').waitFor = ['-'];
      },
    },
    {
      name: 'terraform run outside infra/',
      expect: 'Terraform must run in infra/',
      mutate: (d) => {
        delete stepById(d, 'terraform-init').dir;
      },
    },
  ];
  it.each(ORDER_CASES)('order: $name', ({ expect: problem, mutate }) => {
    const d = doc();
    mutate(d);
    const problems = checkPipelineOrder(d);
    expect(problems.some((p) => p.includes(problem)), problems.join('\n') || '(no problem reported)').toBe(true);
  });

  it('inputs: a Terraform variable that infra/ does not declare', () => {
    const d = doc();
    (stepById(d, 'terraform-apply').env as string[]).push('TF_VAR_regoin=x');
    expect(checkPipelineInputs(d, raw, declared)).toContain('step terraform-apply: TF_VAR_regoin is not a variable of infra/');
  });

  it('inputs: a substitution used but not defined', () => {
    const d = doc();
    delete d.substitutions._REGION;
    expect(checkPipelineInputs(d, raw, declared)).toContain('substitution _REGION is used but not defined');
  });
});
