"""Drives Debian's python3-acme (the library certbot is built on) against the gateway, as a user of the
library would: register, read the account back and update its contact (query_registration +
update_registration, RFC 8555 §7.3.2), order, answer http-01 by writing the key authorization into a
webroot directory the test serves, finalize, download and revoke. Prints one JSON object of what it saw.

usage: python-acme.py DIRECTORY_URL CA_BUNDLE WEBROOT NAME
"""
import datetime
import json
import os
import sys

import josepy as jose
from acme import challenges, client, crypto_util, messages
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from OpenSSL import crypto

directory_url, ca_bundle, webroot, name = sys.argv[1:5]

account_key = jose.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))
net = client.ClientNetwork(account_key, alg=jose.ES256, user_agent='acme-pca-gateway-e2e', verify_ssl=ca_bundle)
acme = client.ClientV2(client.ClientV2.get_directory(directory_url, net), net=net)

out = {}
regr = acme.new_account(messages.NewRegistration.from_data(email='first@e2e.test', terms_of_service_agreed=True))
out['account'] = regr.uri
out['contactAfterRegistration'] = list(regr.body.contact)

# What certbot's `update_account` does to change an e-mail address: read the account back, then send
# its whole body (status "valid" included) with the new contact (RFC 8555 §7.3.2: status is ignored).
regr = acme.query_registration(regr)
out['sentStatus'] = regr.body.status
regr = acme.update_registration(regr.update(body=regr.body.update(contact=('mailto:second@e2e.test',))))
out['contactAfterUpdate'] = list(regr.body.contact)
out['contactReadBack'] = list(acme.query_registration(regr).body.contact)
out['statusReadBack'] = acme.query_registration(regr).body.status

cert_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
cert_key_pem = cert_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
order = acme.new_order(crypto_util.make_csr(cert_key_pem, [name]))
for authz in order.authorizations:
    http01 = next(c for c in authz.body.challenges if isinstance(c.chall, challenges.HTTP01))
    response, validation = http01.response_and_validation(account_key)
    with open(os.path.join(webroot, http01.chall.encode('token')), 'w') as f:
        f.write(validation)
    acme.answer_challenge(http01, response)

order = acme.poll_and_finalize(order, deadline=datetime.datetime.now() + datetime.timedelta(seconds=90))
out['fullchain'] = order.fullchain_pem
leaf = x509.load_pem_x509_certificate(order.fullchain_pem.encode())
out['serial'] = format(leaf.serial_number, 'X')

acme.revoke(jose.ComparableX509(crypto.X509.from_cryptography(leaf)), 4)
out['revoked'] = True
print(json.dumps(out))
