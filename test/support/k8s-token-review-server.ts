// A loopback stand-in for the one Kubernetes API the real OpenBao kubernetes auth method calls at login:
// POST /apis/authentication.k8s.io/v1/tokenreviews. OpenBao first parses the login JWT's claims itself (signature
// not verified when no pem_keys are configured, but the JWT must be a well-formed RS256/ES256 JWS), then asks the
// TokenReview API whether the token is valid and compares name, namespace and uid with the claims.
import { generateKeyPairSync, randomUUID, sign } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * kubernetes auth requires a CA certificate when disable_local_ca_jwt is set, even for an http:// host. This is a
 * throwaway self-signed certificate (public part only; its key was discarded), never used for an http host.
 */
export const TEST_KUBERNETES_CA_PEM = `-----BEGIN CERTIFICATE-----
MIIB0DCCAXWgAwIBAgIUO4m1u40s16UnsW5Jh+4ZW0d79N8wCgYIKoZIzj0EAwIw
PDE6MDgGA1UEAwwxZWNhLXJvdGF0b3IgdGVzdCBrdWJlcm5ldGVzIENBIChwdWJs
aWMgY2VydCBvbmx5KTAgFw0yNjExMjMxMTA0MzlaGA8yMTI2MTAzMDExMDQzOVow
PDE6MDgGA1UEAwwxZWNhLXJvdGF0b3IgdGVzdCBrdWJlcm5ldGVzIENBIChwdWJs
aWMgY2VydCBvbmx5KTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABJ7+76CsxL3E
BF298oe7h3CHmHuIMU8TppQ0zQe/iZb+JxjGWF8wmk7hzajEHjAHhVCTyAeuGMsH
cCeLMHkKokKjUzBRMB0GA1UdDgQWBBSJcyC1BjGoBu/0Cx78K06Mg94njTAfBgNV
HSMEGDAWgBSJcyC1BjGoBu/0Cx78K06Mg94njTAPBgNVHRMBAf8EBTADAQH/MAoG
CCqGSM49BAMCA0kAMEYCIQCDptkgthYl3fZMp5irknmsGCR28PmZurTVKZla71Db
BAIhAJzj7V1ItLc8BgvLgtr/rYH38ul3PITDxT+9zE09o4Fb
-----END CERTIFICATE-----
`;

interface ServiceAccountRef {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
}

export interface TokenReviewServer {
  /** Base URL for auth/<mount>/config kubernetes_host. */
  readonly url: string;
  /** The bearer token OpenBao must present (config token_reviewer_jwt). */
  readonly reviewerJwt: string;
  /** Tokens reviewed so far (the JWTs OpenBao asked about), in order. */
  readonly reviewed: string[];
  /** A new legacy-style service-account JWT that the review API will accept until revoked. */
  issueJwt(sa: Omit<ServiceAccountRef, "uid"> & { uid?: string }): string;
  revoke(jwt: string): void;
  close(): Promise<void>;
}

function b64url(data: string | Buffer): string {
  return Buffer.from(data).toString("base64url");
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

export async function startTokenReviewServer(): Promise<TokenReviewServer> {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const known = new Map<string, ServiceAccountRef>();
  const reviewed: string[] = [];
  const reviewerJwt = `reviewer-${randomUUID()}`;

  const server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      if (req.method !== "POST" || req.url !== "/apis/authentication.k8s.io/v1/tokenreviews") {
        send(res, 404, {
          kind: "Status",
          apiVersion: "v1",
          status: "Failure",
          reason: "NotFound",
          code: 404,
        });
        return;
      }
      if (req.headers.authorization !== `Bearer ${reviewerJwt}`) {
        send(res, 401, {
          kind: "Status",
          apiVersion: "v1",
          status: "Failure",
          reason: "Unauthorized",
          code: 401,
        });
        return;
      }
      const review = JSON.parse(body) as { spec?: { token?: string; audiences?: string[] } };
      const token = review.spec?.token ?? "";
      reviewed.push(token);
      const sa = known.get(token);
      const status = sa
        ? {
            authenticated: true,
            user: {
              username: `system:serviceaccount:${sa.namespace}:${sa.name}`,
              uid: sa.uid,
              groups: ["system:serviceaccounts", `system:serviceaccounts:${sa.namespace}`],
            },
            audiences: review.spec?.audiences ?? [],
          }
        : { authenticated: false, error: "invalid bearer token" };
      send(res, 201, {
        kind: "TokenReview",
        apiVersion: "authentication.k8s.io/v1",
        metadata: { creationTimestamp: null },
        spec: review.spec ?? {},
        status,
      });
    })().catch(() => send(res, 500, { kind: "Status", status: "Failure", code: 500 }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}`,
    reviewerJwt,
    reviewed,
    issueJwt(ref) {
      const sa: ServiceAccountRef = { ...ref, uid: ref.uid ?? randomUUID() };
      const header = b64url(JSON.stringify({ alg: "RS256", typ: "JWT", kid: "test" }));
      const claims = b64url(
        JSON.stringify({
          iss: "kubernetes/serviceaccount",
          sub: `system:serviceaccount:${sa.namespace}:${sa.name}`,
          "kubernetes.io/serviceaccount/namespace": sa.namespace,
          "kubernetes.io/serviceaccount/secret.name": `${sa.name}-token-${randomUUID().slice(0, 5)}`,
          "kubernetes.io/serviceaccount/service-account.name": sa.name,
          "kubernetes.io/serviceaccount/service-account.uid": sa.uid,
          jti: randomUUID(),
        }),
      );
      const signature = sign("RSA-SHA256", Buffer.from(`${header}.${claims}`), privateKey);
      const jwt = `${header}.${claims}.${b64url(signature)}`;
      known.set(jwt, sa);
      return jwt;
    },
    revoke(jwt) {
      known.delete(jwt);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
