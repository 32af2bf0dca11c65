import type { RequestInfo } from '../kube/request-info.js';

/** A classified Kubernetes API request: the API server's RequestInfo plus what policy needs from the body. */
export interface KubeRequest extends RequestInfo {
  /** The named cluster the request is for (the route stage); absent where no cluster applies (policy tests). */
  cluster?: string | undefined;
  /** Raw query string without the leading `?`. */
  query: string;
  /** Media type of the request body, lower-cased, without parameters. */
  contentType: string | undefined;
  /**
   * The parsed body of a create/update/patch (JSON or YAML). Undefined when
   * there is no body or it is in a form Gatehouse does not decode (protobuf);
   * later stages must treat that as "unknown", never as "empty".
   */
  object: unknown;
}
