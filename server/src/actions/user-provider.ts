/**
 * The data_provider actions: a provider whose account writes (add, update, delete) fire them
 * once the write succeeded. Last-login and quota bookkeeping use other methods and fire
 * nothing. Only writes through this process's provider are seen: the operator writes SftpUser
 * accounts straight to the database (see docs/actions.md).
 */
import type { DataProvider, NewUser, User } from '../dataprovider/types.js';
import type { UserActionName } from './calls.js';

export type UserChangeListener = (action: UserActionName, user: User) => void;

type AccountWrites = Pick<DataProvider, 'addUser' | 'updateUser' | 'deleteUser'>;

/**
 * The provider with its three account writes wrapped; every other member is the provider's
 * own, called on the provider itself (its private fields need it as `this`).
 */
export function withUserActions(
  provider: DataProvider,
  wants: (action: UserActionName) => boolean,
  changed: UserChangeListener,
): DataProvider {
  const writes: AccountWrites = {
    async addUser(user: NewUser): Promise<User> {
      const added = await provider.addUser(user);
      changed('add', added);
      return added;
    },
    async updateUser(id: number, user: NewUser): Promise<User> {
      const updated = await provider.updateUser(id, user);
      changed('update', updated);
      return updated;
    },
    async deleteUser(id: number): Promise<void> {
      // The action describes the account deleted, so it is read first, only when needed.
      const before = wants('delete') ? await provider.getUserById(id) : undefined;
      await provider.deleteUser(id);
      if (before !== undefined) changed('delete', before);
    },
  };
  return new Proxy(provider, {
    get(target, property) {
      if (Object.hasOwn(writes, property)) return writes[property as keyof AccountWrites];
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
    },
  });
}
