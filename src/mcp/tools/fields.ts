/** Argument schemas several tools share, described once for the model. */

import { z } from 'zod';

export const resourceField = z
  .string()
  .min(1)
  .describe('Resource type as kubectl accepts it: plural, singular, short name or kind, optionally with its group (e.g. "pods", "deploy", "Deployment", "ingresses.networking.k8s.io").');

export const nameField = z.string().min(1).max(253).describe('Name of the object.');

export const namespaceField = z
  .string()
  .min(1)
  .max(63)
  .optional()
  .describe("Namespace. Default: the namespace of the gateway kubeconfig's context, else \"default\". Ignored for cluster-scoped resources.");

export const reasonField = z
  .string()
  .max(500)
  .optional()
  .describe('Why you are doing this, in one sentence. Shown to the person who approves the action if policy requires approval, and kept in the audit record.');

export const labelSelectorField = z.string().optional().describe('Label selector, e.g. "app=web,tier!=cache".');
export const fieldSelectorField = z.string().optional().describe('Field selector, e.g. "status.phase=Running" or "spec.nodeName=node-1".');

export const podField = z.string().min(1).max(253).describe('Name of the pod.');
export const containerField = z.string().optional().describe('Container name; needed when the pod has more than one container.');
