// `Sforce-Limit-Info: api-usage=25/15000`: the org's daily API usage, sent on every REST
// response. Other comma-separated entries (api-bursts, per-app-api-usage=…) are ignored.

export interface ApiUsage {
  readonly used: number;
  readonly max: number;
}

export function parseLimitInfo(header: string | readonly string[] | undefined): ApiUsage | undefined {
  const values = header === undefined ? [] : typeof header === "string" ? [header] : header;
  for (const value of values) {
    for (const part of value.split(",")) {
      const m = /^\s*api-usage\s*=\s*(\d+)\s*\/\s*(\d+)\s*$/i.exec(part);
      if (m?.[1] && m[2]) return { used: Number(m[1]), max: Number(m[2]) };
    }
  }
  return undefined;
}
