// The dashboard talks to the service through its public REST API only, same origin, bearer token.

export interface ErrorBody {
  status: 'error';
  message: string;
  error_code: string;
  details?: { field: string | null; issue: string };
}

export class ApiError extends Error {
  constructor(
    readonly httpStatus: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }

  get unauthorized(): boolean {
    return this.httpStatus === 401;
  }
}

function isErrorBody(value: unknown): value is ErrorBody {
  return typeof value === 'object' && value !== null && (value as ErrorBody).status === 'error' && typeof (value as ErrorBody).error_code === 'string';
}

export class Api {
  constructor(private readonly token: string) {}

  get<T>(path: string, query: Record<string, string | number | undefined> = {}): Promise<T> {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, String(v));
    const qs = params.toString();
    return this.request<T>('GET', qs ? `${path}?${qs}` : path);
  }

  post<T>(path: string): Promise<T> {
    return this.request<T>('POST', path);
  }

  private async request<T>(method: string, url: string): Promise<T> {
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: { Authorization: `Bearer ${this.token}`, Accept: 'application/json' },
        cache: 'no-store',
        credentials: 'omit',
      });
    } catch {
      throw new ApiError(0, 'NETWORK', 'The service cannot be reached');
    }
    const body: unknown = await res.json().catch(() => null);
    if (!res.ok) {
      if (isErrorBody(body)) {
        const issue = body.details?.issue && body.details.issue !== body.message ? `: ${body.details.issue}` : '';
        throw new ApiError(res.status, body.error_code, `${body.message}${issue} (${body.error_code})`);
      }
      throw new ApiError(res.status, `HTTP_${res.status}`, `Request failed with HTTP ${res.status}`);
    }
    return body as T;
  }
}
