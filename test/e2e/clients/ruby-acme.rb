# Drives Debian's ruby acme-client (2.0.9) against the gateway: register, order, answer http-01 by
# writing the key authorization into a webroot directory the test serves, finalize, download and
# revoke. 2.0.9 crashes on a directory response that carries a Replay-Nonce (interop item 4), so
# this run is also the proof that the directory sends none. Prints one JSON object of what it saw.
#
# usage: ruby-acme.rb DIRECTORY_URL CA_BUNDLE WEBROOT NAME
require 'acme-client'
require 'json'
require 'openssl'

directory_url, ca_bundle, webroot, name = ARGV

def wait_while(what, deadline_s = 60)
  deadline = Time.now + deadline_s
  while yield
    raise "#{what}: still waiting after #{deadline_s} s" if Time.now > deadline
    sleep 0.2
  end
end

client = Acme::Client.new(
  private_key: OpenSSL::PKey::EC.generate('prime256v1'),
  directory: directory_url,
  connection_options: { ssl: { ca_file: ca_bundle } }
)
out = {}
account = client.new_account(contact: 'mailto:ruby@e2e.test', terms_of_service_agreed: true)
out['account'] = account.kid
out['accountStatus'] = account.status

order = client.new_order(identifiers: [name])
order.authorizations.each do |authorization|
  challenge = authorization.http01
  File.write(File.join(webroot, challenge.token), challenge.file_content)
  challenge.request_validation
  wait_while('challenge') { challenge.reload; %w[pending processing].include?(challenge.status) }
  out['challengeStatus'] = challenge.status
end

cert_key = OpenSSL::PKey::RSA.new(2048)
csr = Acme::Client::CertificateRequest.new(private_key: cert_key, subject: { common_name: name }, names: [name])
order.finalize(csr: csr)
wait_while('order') { order.reload; order.status == 'processing' }
out['orderStatus'] = order.status
out['fullchain'] = order.certificate
out['serial'] = OpenSSL::X509::Certificate.new(out['fullchain']).serial.to_s(16).upcase

out['revoked'] = client.revoke(certificate: out['fullchain'], reason: 4)
puts JSON.generate(out)
