-- A migration's checksum, computed by the server so that client and server
-- agree on the bytes.
SELECT encode(sha256(convert_to($1, 'UTF8')), 'hex') AS checksum
