import { describeStoreContract } from '../contract/store-contract.js';

describeStoreContract('the file byte store (@tus/file-store)', () => ({}));
