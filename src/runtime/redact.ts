// Secrets never reach a log line or an error message: a password in a URL
// (postgres://user:password@host/db) is replaced wherever text is printed.

/** `text` with the password of every user:password@ in it replaced by ***. */
export function redactSecrets(text: string): string {
  return text.replace(/(\/\/[^/\s:@]*:)[^@\s/]*@/g, "$1***@");
}
