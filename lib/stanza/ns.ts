// Every XML namespace the server speaks, in one place.

export const NS = {
  CLIENT: "jabber:client",
  STREAMS: "http://etherx.jabber.org/streams",
  STREAM_ERRORS: "urn:ietf:params:xml:ns:xmpp-streams",
  STANZA_ERRORS: "urn:ietf:params:xml:ns:xmpp-stanzas",
  TLS: "urn:ietf:params:xml:ns:xmpp-tls",
  SASL: "urn:ietf:params:xml:ns:xmpp-sasl",
  BIND: "urn:ietf:params:xml:ns:xmpp-bind",
  SESSION: "urn:ietf:params:xml:ns:xmpp-session",
  DISCO_INFO: "http://jabber.org/protocol/disco#info",
  DISCO_ITEMS: "http://jabber.org/protocol/disco#items",
  PING: "urn:xmpp:ping",
  VERSION: "jabber:iq:version",
  DATA_FORMS: "jabber:x:data",
  DELAY: "urn:xmpp:delay",
  MUC: "http://jabber.org/protocol/muc",
  MUC_USER: "http://jabber.org/protocol/muc#user",
  MUC_ADMIN: "http://jabber.org/protocol/muc#admin",
  MUC_OWNER: "http://jabber.org/protocol/muc#owner",
  MUC_ROOMCONFIG: "http://jabber.org/protocol/muc#roomconfig",
  MUC_ROOMINFO: "http://jabber.org/protocol/muc#roominfo",
} as const;
