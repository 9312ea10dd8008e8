// Types of event-schemas.mjs, for the tests.
import type { ErrorObject, ValidateFunction } from 'ajv';

export type EventKind = 'flow' | 'interim' | 'x509' | 'alert' | 'stats';
export declare const SCHEMA_DIR: string;
export declare const KINDS: Record<EventKind, string>;
export type Validators = Record<EventKind, ValidateFunction>;
export declare function kindOf(ev: unknown): EventKind | null;
export declare function loadValidators(dir?: string): Validators;
export declare function describeErrors(errors: ErrorObject[] | null | undefined, max?: number): string[];
export declare function validateEvent(validators: Validators, ev: unknown): { kind: EventKind | null; problems: string[] | null };
export interface DirResult {
  files: number;
  counts: { total: number } & Record<EventKind, number>;
  invalid: { where: string; kind?: EventKind | null; problems: string[]; line: string }[];
  invalidCount: number;
  truncated: number;
}
export declare function validateDir(dir: string, validators?: Validators, maxInvalid?: number): Promise<DirResult>;
export declare function summaryLine(r: DirResult): string;
