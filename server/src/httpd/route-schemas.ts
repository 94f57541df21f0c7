import type { FastifySchema } from 'fastify';

/** Reply bodies every route may send besides its success body. */
export const errorResponses = {
  '4xx': { $ref: 'ErrorBody#' },
  '5xx': { $ref: 'ErrorBody#' },
} as const;

export const messageSchema = {
  type: 'object',
  properties: { message: { type: 'string' } },
  required: ['message'],
} as const;

/** Route documentation keywords that @fastify/swagger reads besides the JSON schemas. */
export interface DocumentedSchema extends FastifySchema {
  summary?: string;
  tags?: string[];
  security?: Record<string, string[]>[];
  hide?: boolean;
}

/** Marks a route as requiring an admin bearer token in the OpenAPI document. */
export function securedRoute(schema: DocumentedSchema): DocumentedSchema {
  return { ...schema, security: [{ BearerAuth: [] }] };
}
