/** An identity as the authenticator established it. */
export interface User {
  name: string;
  email?: string;
  groups: string[];
  admin: boolean;
}
