/** A terminal's size in character cells. */
export interface TerminalSize {
  width: number;
  height: number;
}

/** Window size changes of a streaming client's terminal. */
export interface TerminalResizeSource {
  /**
   * Calls listener with the newest size received so far (if any) and then
   * with every later one, so a late subscriber misses nothing that matters.
   * Returns the function that unsubscribes.
   */
  subscribe(listener: (size: TerminalSize) => void): () => void;
}
