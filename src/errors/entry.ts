/** One error of the registry: its status, when it happens, and its message from its parameters. */
export type Entry<P> = Readonly<{
  /** The HTTP status; HOOK_REJECTED alone takes the one its hook (or authorizer) chose. */
  status: number | ((params: P) => number);
  when: string;
  message: (params: P) => string;
}>;

export const entry = <P = void>(
  status: number | ((params: P) => number),
  when: string,
  message: (params: P) => string,
): Entry<P> => ({ status, when, message });
