/** The body of every error answer of the Engine API. */
export interface ErrorResponse {
  message: string;
}
