/**
 * Both container APIs (the Docker engine's and the Kubernetes API server's)
 * answer "no such thing" and "already so" with HTTP statuses that a runtime
 * often takes as done. Each runtime says how to read the status off its
 * client's rejection; the handling is the same for both.
 */
export interface StatusAnswers {
  /** What `call` resolves with, or null where the API answers that there is no such thing (404). */
  unlessMissing<T>(call: Promise<T>): Promise<T | null>;
  /** A rejection handler that takes answers of these statuses as done (304 already so, 404 already gone, 409 already there), rethrowing anything else. */
  ignoreStatus(...statuses: number[]): (err: unknown) => void;
}

export function statusAnswers(statusOf: (err: unknown) => number | null): StatusAnswers {
  return {
    async unlessMissing<T>(call: Promise<T>): Promise<T | null> {
      try {
        return await call;
      } catch (err) {
        if (statusOf(err) === 404) return null;
        throw err;
      }
    },
    ignoreStatus(...statuses: number[]) {
      return (err: unknown) => {
        const status = statusOf(err);
        if (status === null || !statuses.includes(status)) throw err;
      };
    },
  };
}
