/** Whether `err` is a system error (Node's fs, or the native addon) with the errno name `code`. */
export function isErrno(err: unknown, code: string): boolean {
  return err instanceof Error && (err as NodeJS.ErrnoException).code === code;
}
