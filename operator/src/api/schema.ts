/**
 * Building blocks for the CRD schemas, written with TypeBox like the account and the config
 * schemas: each is plain JSON Schema at run time (the CRD generator turns it into a structural
 * OpenAPI schema) and a static type at compile time. Every property carries a description,
 * which `kubectl explain` shows; crd/structural.ts refuses a schema that lacks one.
 */
import {
  Type,
  type Static,
  type TInteger,
  type TObject,
  type TOptional,
  type TSchema,
  type TString,
  type TUnsafe,
} from '@sinclair/typebox';

/** A CEL rule checked by the API server at admission, with the message a client sees. */
export interface CelRule {
  rule: string;
  message: string;
  /** The field the message points at, relative to the schema the rule sits on. */
  fieldPath?: string;
}

/** The x-kubernetes-validations keyword, as options for a TypeBox schema. */
export function cel(...rules: CelRule[]): Record<string, unknown> {
  return { 'x-kubernetes-validations': rules };
}

/** A map of strings (labels, annotations, node selectors). */
export function stringMap(description: string): TUnsafe<Record<string, string>> {
  return Type.Unsafe<Record<string, string>>({
    type: 'object',
    additionalProperties: { type: 'string' },
    description,
  });
}

/**
 * A Kubernetes core type passed on as given (affinity, tolerations, resources): the API server
 * checks it when the operator writes the Deployment, so the CRD does not restate its schema.
 */
export function passedThrough<T = Record<string, unknown>>(description: string): TUnsafe<T> {
  return Type.Unsafe<T>({
    type: 'object',
    'x-kubernetes-preserve-unknown-fields': true,
    description,
  });
}

export const NAME_MAX_LENGTH = 253;

export function objectName(description: string): TString {
  return Type.String({ minLength: 1, maxLength: NAME_MAX_LENGTH, description });
}

/** A reference to an object in the same namespace. */
export type LocalReferenceSchema = TObject<{ name: TString }>;
export type SecretKeyReferenceSchema = TObject<{ name: TString; key: TOptional<TString> }>;

export function localReference(description: string): LocalReferenceSchema {
  return Type.Object(
    { name: objectName('Name of the object, in the namespace of this resource.') },
    { description },
  );
}

/** A key of a Secret in the same namespace; `key` may default per use. */
export function secretKeyReference(
  description: string,
  keyDescription: string,
  kind: 'Secret' | 'ConfigMap' = 'Secret',
): SecretKeyReferenceSchema {
  return Type.Object(
    {
      name: objectName(`Name of the ${kind}, in the namespace of this resource.`),
      key: Type.Optional(
        Type.String({ minLength: 1, maxLength: NAME_MAX_LENGTH, description: keyDescription }),
      ),
    },
    { description },
  );
}

/** A string enum as one `enum` keyword, so a bad value gets one error listing the allowed ones. */
export function stringEnum<T extends string>(
  values: readonly T[],
  options: { description: string; default?: T },
): TUnsafe<T> {
  return Type.Unsafe<T>({ type: 'string', enum: [...values], ...options });
}

/** A count: whole, non-negative, and exact in a double. */
export function count(description: string): TInteger {
  return Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description });
}

/** A condition, as metav1.Condition, kept in a list keyed by type. */
export const ConditionSchema = Type.Object(
  {
    type: Type.String({ maxLength: 316, description: 'Type of the condition, e.g. Ready.' }),
    status: stringEnum(['True', 'False', 'Unknown'] as const, {
      description: 'Status of the condition: True, False or Unknown.',
    }),
    reason: Type.String({
      maxLength: 1024,
      description: 'A CamelCase word for why the condition has its status.',
    }),
    message: Type.String({
      maxLength: 32768,
      description: 'What happened, for people; may be empty.',
    }),
    lastTransitionTime: Type.String({
      format: 'date-time',
      description: 'When the status last changed.',
    }),
    observedGeneration: Type.Optional(
      Type.Integer({
        minimum: 0,
        description: 'The metadata.generation the condition was computed from.',
      }),
    ),
  },
  { description: 'One aspect of the current state.' },
);
export type Condition = Static<typeof ConditionSchema>;

export function conditionList(description: string): TSchema {
  return Type.Array(ConditionSchema, {
    description,
    maxItems: 16,
    'x-kubernetes-list-type': 'map',
    'x-kubernetes-list-map-keys': ['type'],
  });
}
