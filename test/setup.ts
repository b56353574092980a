// @peculiar/x509 relies on tsyringe, which needs reflect-metadata loaded once before use.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
x509.cryptoProvider.set(webcrypto as never);
