/**
 * The two CustomResourceDefinitions, built from the schemas in api/. crd/write-crds.ts writes
 * them to crds/ and to the chart; a test fails when the files are stale.
 */
import { API_VERSION, GROUP, LABELS, SFTP_SERVER, SFTP_USER, VERSION } from '../api/group.js';
import { SftpServerSpecSchema, SftpServerStatusSchema } from '../api/sftpserver.js';
import { SftpUserSpecSchema, SftpUserStatusSchema } from '../api/sftpuser.js';
import { plain, toStructural } from './structural.js';

type Schema = Record<string, unknown>;

interface Names {
  kind: string;
  plural: string;
  singular: string;
}

export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'date' | 'boolean' | 'number';
  jsonPath: string;
  description: string;
  priority?: number;
}

interface CrdOptions {
  names: Names;
  shortNames: string[];
  description: string;
  spec: unknown;
  status: unknown;
  columns: PrinterColumn[];
  rootRules?: Schema[];
}

const readyColumn = (description: string): PrinterColumn => ({
  name: 'Ready',
  type: 'string',
  jsonPath: '.status.conditions[?(@.type=="Ready")].status',
  description,
});

const reasonColumn: PrinterColumn = {
  name: 'Reason',
  type: 'string',
  jsonPath: '.status.conditions[?(@.type=="Ready")].reason',
  description: 'Why the resource is or is not ready.',
  priority: 1,
};

const ageColumn: PrinterColumn = {
  name: 'Age',
  type: 'date',
  jsonPath: '.metadata.creationTimestamp',
  description: 'Time since creation.',
};

function rootSchema(options: CrdOptions): Schema {
  return {
    type: 'object',
    description: options.description,
    required: ['spec'],
    properties: {
      apiVersion: {
        type: 'string',
        description: `${API_VERSION}.`,
      },
      kind: { type: 'string', description: `${options.names.kind}.` },
      metadata: { type: 'object' },
      spec: toStructural(plain(options.spec), 'spec'),
      status: toStructural(plain(options.status), 'status'),
    },
    ...(options.rootRules === undefined ? {} : { 'x-kubernetes-validations': options.rootRules }),
  };
}

function crd(options: CrdOptions): Schema {
  const { names } = options;
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${names.plural}.${GROUP}`,
      labels: { [LABELS.name]: 'kubesftp', [LABELS.partOf]: 'kubesftp' },
    },
    spec: {
      group: GROUP,
      scope: 'Namespaced',
      names: {
        kind: names.kind,
        listKind: `${names.kind}List`,
        plural: names.plural,
        singular: names.singular,
        shortNames: options.shortNames,
        categories: ['kubesftp'],
      },
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: options.columns,
          schema: { openAPIV3Schema: rootSchema(options) },
        },
      ],
    },
  };
}

export function sftpServerCrd(): Schema {
  return crd({
    names: SFTP_SERVER,
    shortNames: ['sftpsrv'],
    description:
      'An SFTP service: pods of kubesftp behind a Service, sharing accounts in PostgreSQL and homes on a shared volume.',
    spec: SftpServerSpecSchema,
    status: SftpServerStatusSchema,
    columns: [
      readyColumn('Whether a pod is ready to serve.'),
      {
        name: 'Replicas',
        type: 'integer',
        jsonPath: '.spec.replicas',
        description: 'Pods wanted.',
      },
      {
        name: 'Available',
        type: 'integer',
        jsonPath: '.status.readyReplicas',
        description: 'Pods ready.',
      },
      {
        name: 'Address',
        type: 'string',
        jsonPath: '.status.service.address',
        description: 'Where clients connect.',
      },
      { name: 'Port', type: 'integer', jsonPath: '.status.service.port', description: 'Port.' },
      reasonColumn,
      ageColumn,
    ],
  });
}

/** The effective username may not change, whether it is spelled out or comes from the name. */
const IMMUTABLE_USERNAME =
  '(has(self.spec.username) ? self.spec.username : self.metadata.name) == (has(oldSelf.spec.username) ? oldSelf.spec.username : oldSelf.metadata.name)';

export function sftpUserCrd(): Schema {
  const spec = plain(SftpUserSpecSchema);
  const properties = spec['properties'] as Record<string, Schema>;
  properties['serverRef'] = {
    ...properties['serverRef'],
    'x-kubernetes-validations': [
      {
        rule: 'self == oldSelf',
        message:
          'serverRef is immutable: create another SftpUser to put an account on another server',
      },
    ],
  };
  return crd({
    names: SFTP_USER,
    shortNames: ['sftpusr'],
    description: 'An account of an SftpServer, kept in its database by the operator.',
    spec,
    status: SftpUserStatusSchema,
    columns: [
      {
        name: 'Server',
        type: 'string',
        jsonPath: '.spec.serverRef.name',
        description: 'The SftpServer holding the account.',
      },
      {
        name: 'Username',
        type: 'string',
        jsonPath: '.status.username',
        description: 'The account name.',
      },
      readyColumn('Whether the account is in the database as declared.'),
      reasonColumn,
      ageColumn,
    ],
    rootRules: [
      {
        rule: IMMUTABLE_USERNAME,
        message:
          'spec.username is immutable (it defaults to metadata.name): create another SftpUser for another account name',
        fieldPath: '.spec.username',
      },
    ],
  });
}

export function allCrds(): Schema[] {
  return [sftpServerCrd(), sftpUserCrd()];
}
